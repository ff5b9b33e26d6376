package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// FileProgress is a ProgressStore keeping one fetcher's progress in a JSON
// file (used by `pullpush pull --state`). Writes are atomic (temp + rename)
// and the file is readable by its owner only.
type FileProgress struct {
	Path string
	mu   sync.Mutex
}

// LoadProgress implements ProgressStore.
func (p *FileProgress) LoadProgress(string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, err := os.ReadFile(p.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return data, nil
}

// SaveProgress implements ProgressStore.
func (p *FileProgress) SaveProgress(_ string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	dir := filepath.Dir(p.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), p.Path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
