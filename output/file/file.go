package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pullpush/pullpush/output"
)

// DefaultStem is the stem used when Config.Stem is empty.
const DefaultStem = "channel"

// Config configures an output.
type Config struct {
	// Dir is the destination directory; it is created (with parents) when
	// missing.
	Dir string
	// Stem is the base name of pushed files; empty means DefaultStem.
	Stem string
}

// Output stores files in a directory.
type Output struct {
	stem   string
	target *target
}

var _ output.Output = (*Output)(nil)

// New validates cfg, creates the directory if needed and returns an
// output. Validation errors are *output.PayloadError values.
func New(cfg Config) (*Output, error) {
	if cfg.Dir == "" {
		return nil, output.Invalid("dir", "required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, output.Invalid("dir", "cannot be made absolute: %v", err)
	}
	stem := cfg.Stem
	if stem == "" {
		stem = DefaultStem
	}
	if err := output.ValidName(stem); err != nil {
		return nil, output.Invalid("stem", "must be a name of [A-Za-z0-9._-] not starting with a dot")
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return nil, output.Invalid("dir", "is not a directory")
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("file output: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("file output: %w", err)
	}
	return &Output{stem: stem, target: &target{dir: dir}}, nil
}

// Dir returns the absolute destination directory.
func (o *Output) Dir() string { return o.target.dir }

// Stem implements output.Output.
func (o *Output) Stem() string { return o.stem }

// Targets implements output.Output: a single target.
func (o *Output) Targets() []output.Target { return []output.Target{o.target} }

// Close implements output.Output; there is nothing to release.
func (o *Output) Close() error { return nil }

type target struct {
	dir string
}

// Name implements output.Target: "file <dir>".
// AcceptsParts implements output.PartTarget: the stored files are served
// as they are, so LL-HLS parts are pushed too.
func (t *target) AcceptsParts() bool { return true }

func (t *target) Name() string { return "file " + t.dir }

// Put implements output.Target: write to a temporary file, sync, rename.
func (t *target) Put(ctx context.Context, f output.File) (err error) {
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

	// The temporary name starts with a dot, which no valid name does, so
	// it can never collide with or be mistaken for a pushed file.
	tmp, err := os.CreateTemp(t.dir, "."+f.Name+".tmp-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", f.Name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, &ctxReader{ctx: ctx, r: rc})
	if err != nil {
		return fmt.Errorf("put %s: write: %w", f.Name, err)
	}
	if f.Size >= 0 && n != f.Size {
		return fmt.Errorf("put %s: body has %d bytes, want %d", f.Name, n, f.Size)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("put %s: %w", f.Name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("put %s: sync: %w", f.Name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", f.Name, err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", f.Name, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(t.dir, f.Name)); err != nil {
		return fmt.Errorf("put %s: %w", f.Name, err)
	}
	syncDir(t.dir)
	return nil
}

// Delete implements output.Target; a missing file is not an error.
func (t *target) Delete(ctx context.Context, name string) error {
	if err := output.CheckName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := os.Remove(filepath.Join(t.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// syncDir makes a rename durable; failures (unsupported on some systems)
// are ignored because the rename itself succeeded.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// ctxReader fails reads once ctx is done, so a slow source cannot keep a
// cancelled Put running.
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
