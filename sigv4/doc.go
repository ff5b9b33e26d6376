// Package sigv4 signs and verifies HTTP requests with AWS Signature
// Version 4, as MediaPackage v2's ingest takes them: a client RoundTripper
// that signs every request (with the SHA-256 of its body in
// X-Amz-Content-Sha256), and a server-side Verifier that checks the
// Authorization header of such requests and the body against its hash.
//
// Both sides use aws-sdk-go-v2's signer: the Verifier rebuilds the
// request from the headers the client signed and signs it again with the
// secret of the access key the client named, at the client's X-Amz-Date,
// and compares the signatures in constant time.
package sigv4
