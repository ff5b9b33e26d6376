// Package outputs wires the built-in outputs (mediapackage, webdav, s3,
// file, void) into an output.Registry:
//
//	reg := output.NewRegistry()
//	outputs.Register(reg)
//	out, err := reg.Build("mediapackage", payload)
//
// and redacts payloads before they are shown or logged (Redact).
package outputs
