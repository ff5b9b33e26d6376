package origin

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/keys"
)

// keyCacheSize bounds the keys an origin keeps (periods x resources).
const keyCacheSize = 8192

// keyTimeout bounds one key provider call.
const keyTimeout = 10 * time.Second

// keyCache remembers the key of each (resource, period), asking the
// provider once per key (concurrent requests wait for the first). Failed
// requests are not remembered.
type keyCache struct {
	p     keys.Provider
	mu    sync.Mutex
	m     map[string]*keyEntry
	order []string
}

type keyEntry struct {
	done chan struct{}
	k    keys.Key
	err  error
}

func newKeyCache(p keys.Provider) *keyCache {
	return &keyCache{p: p, m: make(map[string]*keyEntry)}
}

func (kc *keyCache) get(ctx context.Context, resource string, period int64) (keys.Key, error) {
	if kc == nil || kc.p == nil {
		return keys.Key{}, fmt.Errorf("no key provider")
	}
	id := resource + "/" + strconv.FormatInt(period, 10)
	kc.mu.Lock()
	e := kc.m[id]
	if e == nil {
		e = &keyEntry{done: make(chan struct{})}
		kc.m[id] = e
		kc.order = append(kc.order, id)
		if over := len(kc.order) - keyCacheSize; over > 0 {
			for _, old := range kc.order[:over] {
				delete(kc.m, old)
			}
			kc.order = append(kc.order[:0], kc.order[over:]...)
		}
		kc.mu.Unlock()
		// The key is fetched for everyone waiting: not bound to the
		// first requester's context.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyTimeout)
		e.k, e.err = kc.p.Key(fctx, resource, period)
		cancel()
		if e.err != nil {
			kc.mu.Lock()
			if kc.m[id] == e {
				delete(kc.m, id)
			}
			kc.mu.Unlock()
		}
		close(e.done)
	} else {
		kc.mu.Unlock()
	}
	select {
	case <-e.done:
		return e.k, e.err
	case <-ctx.Done():
		return keys.Key{}, ctx.Err()
	}
}

// period returns the key rotation period of a segment starting at start
// (unix ns).
func (e *encSpec) period(start int64) int64 {
	if e.rotation <= 0 {
		return 0
	}
	r := int64(e.rotation)
	p := start / r
	if start%r < 0 {
		p--
	}
	return p
}

// keyedInit reports whether init sections depend on the key (encrypted
// with it, or carrying its ID).
func (e *encSpec) keyedInit() bool { return e != nil && e.method != MethodSampleAES }

// hlsMethod is the EXT-X-KEY METHOD of the encryption.
func (e *encSpec) hlsMethod() string {
	switch e.method {
	case MethodAES128:
		return "AES-128"
	case MethodCENC:
		return "SAMPLE-AES-CTR"
	default:
		return "SAMPLE-AES"
	}
}

// derivedIV is the IV used with a key when neither the endpoint nor the
// key server fixed one and the IV cannot be per segment.
func derivedIV(kid keys.KID, period int64) []byte {
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], uint64(period))
	sum := sha256.Sum256(append(append([]byte("pullpush/iv\x00"), kid[:]...), p[:]...))
	return sum[:16]
}

// seqIV is the implicit HLS IV of a segment: its media sequence number as
// a 128-bit big-endian integer.
func seqIV(seq int64) []byte {
	iv := make([]byte, 16)
	binary.BigEndian.PutUint64(iv[8:], uint64(seq))
	return iv
}

// segmentIV returns the IV a segment (or, with hasInit, an init section)
// is encrypted with and whether EXT-X-KEY must carry it. cenc gets the
// start of the per-sample IVs of the segment's first fragment.
func (e *encSpec) segmentIV(k keys.Key, seq, period int64, hasInit bool) (iv []byte, explicit bool) {
	switch {
	case e.method == MethodCENC:
		iv = make([]byte, 16)
		binary.BigEndian.PutUint64(iv, uint64(seq))
		return iv, false
	case e.constIV != nil:
		return e.constIV, true
	case len(k.IV) == 16:
		return k.IV, true
	case e.method == MethodCBCS || hasInit:
		return derivedIV(k.ID, period), true
	default:
		return seqIV(seq), e.perSegmentIV(k)
	}
}

// perSegmentIV reports whether SAMPLE-AES segments get their media
// sequence number as IV written out in an EXT-X-KEY each: the implicit IV
// is what the HLS specification says, but hls.js only decrypts SAMPLE-AES
// with an explicit IV.
func (e *encSpec) perSegmentIV(k keys.Key) bool {
	return e.method == MethodSampleAES && e.constIV == nil && len(k.IV) != 16
}

// fragmentIV is the first per-sample IV of fragment n of a cenc segment:
// the segment's sequence number, the fragment number, then a block
// counter, so no two samples under one key share a counter block.
func fragmentIV(seq int64, n int) []byte {
	iv := make([]byte, 16)
	binary.BigEndian.PutUint64(iv, uint64(seq))
	binary.BigEndian.PutUint16(iv[8:], uint16(n))
	return iv
}

// keyTag returns the EXT-X-KEY of key k for a segment.
func (e *encSpec) keyTag(channel, endpointID string, k keys.Key, period int64, iv []byte, explicit bool) (*hls.Key, error) {
	uri := k.URI
	if e.keyURI != "" {
		uri = expandKeyURI(e.keyURI, channel, endpointID, e.resource, k.ID, period)
	}
	if uri == "" {
		return nil, fmt.Errorf("no key URI for key %s: set the endpoint's keyURI", k.ID)
	}
	tag := &hls.Key{Method: e.hlsMethod(), URI: uri, KeyFormat: e.keyFormat, KeyFormatVersions: e.keyFormatVersions}
	if explicit {
		tag.IV = "0x" + hex.EncodeToString(iv)
	}
	return tag, nil
}

// aes128CBC encrypts data whole with AES-128-CBC and PKCS#7 padding
// (HLS METHOD=AES-128).
func aes128CBC(key keys.Secret, iv, data []byte) ([]byte, error) {
	block, err := aes.NewCipher(key.Bytes())
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	pad := aes.BlockSize - len(data)%aes.BlockSize
	out := make([]byte, len(data)+pad)
	copy(out, data)
	for i := len(data); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, out)
	return out, nil
}
