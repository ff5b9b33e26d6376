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
// instance role; without endpoint or region, Factory takes them from
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_REGION /
// AWS_DEFAULT_REGION (NewFactory chooses the lookup).
//
// The keys of Eyevinn hls-pull-push's s3 plugin are accepted with its
// meaning: "folder" is the key prefix (the same as "prefix"; giving both
// is an error unless they are equal), "outputIndexFilename" is the object
// name of the multivariant playlist (default <stem>.m3u8) and "timeoutMs"
// bounds one download attempt of a source segment, in milliseconds
// (reported to the fetcher through output.SegmentTimeouter).
package s3
