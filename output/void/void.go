package void

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/pullpush/pullpush/output"
)

// Stem is the stem of void outputs.
const Stem = "channel"

// Output discards files.
type Output struct {
	target *target
}

var _ output.Output = (*Output)(nil)

// New returns a void output.
func New() *Output { return &Output{target: &target{}} }

// Stats returns the number of files put and their total size in bytes.
func (o *Output) Stats() (files, bytes int64) {
	return o.target.files.Load(), o.target.bytes.Load()
}

// Stem implements output.Output.
func (o *Output) Stem() string { return Stem }

// Targets implements output.Output: a single target.
func (o *Output) Targets() []output.Target { return []output.Target{o.target} }

// Close implements output.Output.
func (o *Output) Close() error { return nil }

type target struct {
	files, bytes atomic.Int64
}

// Name implements output.Target.
func (t *target) Name() string { return "void" }

// Put implements output.Target: read f to the end and discard it.
func (t *target) Put(ctx context.Context, f output.File) error {
	if err := output.CheckName(f.Name); err != nil {
		return err
	}
	if f.Open == nil {
		return fmt.Errorf("put %s: file has no Open function", f.Name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("put %s: open: %w", f.Name, err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, &ctxReader{ctx: ctx, r: rc})
	if err != nil {
		return fmt.Errorf("put %s: read: %w", f.Name, err)
	}
	if f.Size >= 0 && n != f.Size {
		return fmt.Errorf("put %s: body has %d bytes, want %d", f.Name, n, f.Size)
	}
	t.files.Add(1)
	t.bytes.Add(n)
	return nil
}

// Delete implements output.Target: nothing to delete.
func (t *target) Delete(ctx context.Context, name string) error {
	if err := output.CheckName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Payload is the JSON payload of Factory: an empty object.
type Payload struct{}

// Schema is the JSON Schema (draft 2020-12) of Payload.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "void output",
  "description": "Read and discard every file (dry run, CDN warm-up).",
  "type": "object",
  "additionalProperties": false,
  "properties": {}
}`

// Factory builds void outputs; the payload is {} or absent.
var Factory = output.Factory{
	Name:        "void",
	Description: "Read and discard every file (dry runs, CDN warm-up); counts files and bytes.",
	Schema:      json.RawMessage(Schema),
	New: func(payload json.RawMessage) (output.Output, error) {
		var p Payload
		if err := output.DecodePayload(payload, &p); err != nil {
			return nil, err
		}
		return New(), nil
	},
}
