package livesource

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SequenceIV returns the default AES-128 IV of a segment: its media
// sequence number as a 128-bit big-endian integer.
func SequenceIV(msn uint64) [16]byte {
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], msn)
	return iv
}

// encrypt encrypts data with the fixed key (AES-128-CBC, PKCS#7 padding).
func encrypt(data []byte, iv [16]byte) []byte {
	block, err := aes.NewCipher(Key())
	if err != nil {
		panic(err)
	}
	pad := aes.BlockSize - len(data)%aes.BlockSize
	out := make([]byte, len(data)+pad)
	copy(out, data)
	for i := len(data); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(out, out)
	return out
}

// Decrypt decrypts an AES-128 HLS segment (CBC with PKCS#7 padding), e.g.
// Decrypt(Key(), SequenceIV(msn), data) for a segment served in Key mode.
func Decrypt(key []byte, iv [16]byte, data []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("livesource: decrypt: %w", err)
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("livesource: decrypt: length %d is not a positive multiple of %d", len(data), aes.BlockSize)
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(out) {
		return nil, errors.New("livesource: decrypt: bad padding")
	}
	for _, c := range out[len(out)-pad:] {
		if int(c) != pad {
			return nil, errors.New("livesource: decrypt: bad padding")
		}
	}
	return out[:len(out)-pad], nil
}

// multiReader is an io.ReadSeeker over immutable byte slices.
type multiReader struct {
	parts [][]byte
	size  int64
	off   int64
}

func newMultiReader(parts [][]byte) *multiReader {
	m := &multiReader{parts: parts}
	for _, p := range parts {
		m.size += int64(len(p))
	}
	return m
}

func (m *multiReader) Read(b []byte) (int, error) {
	if m.off >= m.size {
		return 0, io.EOF
	}
	n := 0
	base := int64(0)
	for _, p := range m.parts {
		end := base + int64(len(p))
		if m.off < end && n < len(b) {
			c := copy(b[n:], p[m.off-base:])
			n += c
			m.off += int64(c)
		}
		base = end
		if n == len(b) {
			break
		}
	}
	return n, nil
}

func (m *multiReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = m.off + offset
	case io.SeekEnd:
		abs = m.size + offset
	default:
		return 0, errors.New("livesource: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("livesource: negative position")
	}
	m.off = abs
	return abs, nil
}
