// Package s3 pushes files to an S3 bucket (AWS or any S3-compatible
// store: MinIO, versitygw, Ceph...) with minio-go. Files of known size are
// streamed in a single PutObject request carrying Content-Type and
// Cache-Control; Delete removes objects.
//
// The REST API uses Factory with the payload
//
//	{"bucket": "live", "prefix": "channels/1", "region": "eu-west-1",
//	 "endpoint": "https://s3.eu-west-1.amazonaws.com", "accessKeyId": "...",
//	 "secretAccessKey": "...", "sessionToken": "", "pathStyle": false, "stem": "channel"}
//
// With neither accessKeyId nor secretAccessKey, credentials come from the
// environment (AWS_ACCESS_KEY_ID...), the shared credentials file or the
// instance role.
package s3
