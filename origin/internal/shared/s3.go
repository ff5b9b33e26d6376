package shared

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/internal/s3client"
)

// S3 is a Store on an S3 bucket (minio-go).
type S3 struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	name   string // s3://bucket/prefix, for logs
}

// NewS3 returns the store of the objects under prefix ("" or ending in
// "/") in bucket, with the client of cfg. It does not contact the server.
func NewS3(bucket, prefix string, cfg s3client.Config) (*S3, error) {
	client, err := s3client.New(cfg)
	if err != nil {
		return nil, err
	}
	return &S3{client: client, bucket: bucket, prefix: prefix, name: "s3://" + bucket + "/" + prefix}, nil
}

// String returns s3://bucket/prefix.
func (b *S3) String() string { return b.name }

// Put writes the object key.
func (b *S3) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.client.PutObject(ctx, b.bucket, b.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", key, err)
	}
	return nil
}

// Get reads the object key; ErrNoObject when it is missing.
func (b *S3) Get(ctx context.Context, key string) ([]byte, error) {
	obj, err := b.client.GetObject(ctx, b.bucket, b.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("s3 get %s: %w", key, ErrNoObject)
		}
		return nil, fmt.Errorf("s3 get %s: %w", key, err)
	}
	return data, nil
}

// List returns up to max keys under prefix that sort after startAfter,
// in lexicographic order.
func (b *S3) List(ctx context.Context, prefix, startAfter string, max int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio's listing goroutine
	opts := minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true, MaxKeys: max}
	if startAfter != "" {
		opts.StartAfter = b.prefix + startAfter
	}
	var keys []string
	for obj := range b.client.ListObjects(ctx, b.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", prefix, obj.Err)
		}
		keys = append(keys, obj.Key[len(b.prefix):])
		if len(keys) >= max {
			break
		}
	}
	return keys, nil
}

// Remove deletes the object key.
func (b *S3) Remove(ctx context.Context, key string) error {
	if err := b.client.RemoveObject(ctx, b.bucket, b.prefix+key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("s3 delete %s: %w", key, err)
	}
	return nil
}

// Exists reports whether the object key exists.
func (b *S3) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.client.StatObject(ctx, b.bucket, b.prefix+key, minio.StatObjectOptions{})
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("s3 stat %s: %w", key, err)
}

// CheckBucket verifies that the bucket exists and is reachable.
func (b *S3) CheckBucket(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", b.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %s does not exist", b.bucket)
	}
	return nil
}

func isNotFound(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode == http.StatusNotFound || er.Code == "NoSuchKey"
	}
	return false
}
