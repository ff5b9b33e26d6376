package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/keys"
)

// startKeys runs the keys command on a free loopback port and returns its
// base URL, its output and a stop function.
func startKeys(t *testing.T, args ...string) (string, *testutil.LockedBuffer, func() string) {
	t.Helper()
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runKeys(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), stdout, stderr)
	})
	base := c.WaitMatch(t, &c.Stdout, regexp.MustCompile(`key server (http://127\.0\.0\.1:\d+)`), 5*time.Second)[1]
	stop := func() string {
		if err := c.Stop(); err != nil {
			t.Errorf("runKeys: %v", err)
		}
		return c.Stdout.String() + c.Stderr.String()
	}
	return base, &c.Stdout, stop
}

func fetchRawKey(t *testing.T, url, bearer string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestKeysCommand(t *testing.T) {
	const token = "k3ys-t0ken"
	t.Setenv(keysTokenEnv, token)
	base, stdout, stop := startKeys(t)
	for _, want := range []string{base + keys.SPEKEPath, base + "/keys/{channel}/{kid}", "token:      required"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	cli, err := keys.NewSPEKE(keys.SPEKEConfig{URL: base + keys.SPEKEPath, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	k, err := cli.Key(context.Background(), "live", 7)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := fetchRawKey(t, k.URI, token); code != http.StatusOK || !bytes.Equal(body, k.Value.Bytes()) {
		t.Fatalf("GET %s: %d", k.URI, code)
	}
	if code, _ := fetchRawKey(t, k.URI, ""); code != http.StatusUnauthorized {
		t.Fatalf("GET without token: %d", code)
	}
	out := stop()
	if strings.Contains(out, token) || strings.Contains(out, hex.EncodeToString(k.Value[:])) || strings.Contains(out, base64.StdEncoding.EncodeToString(k.Value[:])) {
		t.Fatalf("secret in the output:\n%s", out)
	}
	if !strings.Contains(out, k.ID.String()) {
		t.Fatalf("key ID not logged:\n%s", out)
	}
}

// With --secret-file, a restarted server serves the same keys; with
// --keys-file, the listed keys.
func TestKeysCommandSecretAndStaticKeys(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600)
	static := filepath.Join(dir, "keys.yaml")
	os.WriteFile(static, []byte("keys:\n  - channel: live\n    kid: 11111111111111111111111111111111\n    key: 00112233445566778899aabbccddeeff\n"), 0o600)
	kid := keys.DeriveKID("live", 3).String()
	var first []byte
	for i := 0; i < 2; i++ {
		base, _, stop := startKeys(t, "--secret-file", secret, "--keys-file", static)
		code, body := fetchRawKey(t, base+"/keys/live/"+kid, "")
		if code != http.StatusOK || len(body) != 16 {
			t.Fatalf("derived key: %d", code)
		}
		if i == 0 {
			first = body
		} else if !bytes.Equal(first, body) {
			t.Fatal("derived key changed across restarts")
		}
		code, body = fetchRawKey(t, base+"/keys/live/11111111111111111111111111111111", "")
		if code != http.StatusOK || hex.EncodeToString(body) != "00112233445566778899aabbccddeeff" {
			t.Fatalf("static key: %d", code)
		}
		stop()
	}
}

func TestKeysCommandUsage(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("tiny"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("keys: [{kid: 1, key: 2}]\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret-file", short}, "want at least 16 bytes"},
		{[]string{"--secret-file", filepath.Join(dir, "none")}, "--secret-file"},
		{[]string{"--keys-file", bad}, "keys[0].kid"},
		{[]string{"--nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var out, errb bytes.Buffer
		err := runKeys(context.Background(), tc.args, &out, &errb)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want usage error containing %q", tc.args, err, tc.want)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keys", "-h"}, &out, io.Discard); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "SPEKE") {
		t.Fatalf("keys -h: %v\n%s", err, out.String())
	}
}

// TestOriginWithKeyServer runs `pullpush keys` and `pullpush origin` with
// --endpoint flags: the AES-128 endpoint's EXT-X-KEY points at the key
// server, whose key (fetched with the token) decrypts the segment to the
// clear TS endpoint's bytes.
func TestOriginWithKeyServer(t *testing.T) {
	const token = "k3y-t0k"
	kbase, _, stopKeys := startKeys(t, "--token", token)
	c := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runOrigin(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--channel", "live=pusher:pw",
			"--endpoint", "ts", "--endpoint", "cmaf", "--endpoint", "aes=ts:aes-128", "--endpoint", "cbcs=cmaf:cbcs",
			"--key-server", kbase + keys.SPEKEPath, "--key-token", token, "--key-rotation", "0s"}, stdout, stderr)
	})
	stdout, stderr := &c.Stdout, &c.Stderr
	base := c.WaitMatch(t, stdout, regexp.MustCompile(`ingest a: (http://127\.0\.0\.1:\d+)/in/v2/live/a/channel`), 5*time.Second)[1]
	for _, want := range []string{"playback aes (ts, AES-128): " + base + "/out/v1/live/aes/index.m3u8", "playback cmaf (cmaf): " + base + "/out/v1/live/cmaf/index.m3u8"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	set, err := testmedia.Load(testmedia.TS)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &digest.Transport{Username: "pusher", Password: "pw"}}
	put := func(name string, body []byte) {
		req, _ := http.NewRequest(http.MethodPut, base+"/in/v2/live/a/"+name, bytes.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d", name, resp.StatusCode)
		}
	}
	put("channel_v_0.ts", set.Rendition("video_hi").Segments[0].Data)
	put("channel_v.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nchannel_v_0.ts\n"))
	get := func(u string) []byte {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
		}
		return b
	}
	pl, err := hls.ParseMedia(get(base + "/out/v1/live/aes/channel_v.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	seg := pl.Segments[0]
	if len(seg.Keys) != 1 || !strings.HasPrefix(seg.Keys[0].URI, kbase+"/keys/live/") {
		t.Fatalf("EXT-X-KEY: %+v", seg.Keys)
	}
	code, key := fetchRawKey(t, seg.Keys[0].URI, token)
	if code != http.StatusOK {
		t.Fatalf("key: %d", code)
	}
	enc := get(base + "/out/v1/live/aes/" + seg.URI)
	clear := get(base + "/out/v1/live/ts/" + seg.URI)
	block, _ := aes.NewCipher(key)
	iv := make([]byte, 16)
	binary.BigEndian.PutUint64(iv[8:], uint64(pl.MediaSequence))
	dec := make([]byte, len(enc))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(dec, enc)
	if n := int(dec[len(dec)-1]); n < 1 || n > 16 || !bytes.Equal(dec[:len(dec)-n], clear) {
		t.Fatal("AES-128 segment does not decrypt to the clear segment")
	}
	if m := get(base + "/out/v1/live/cbcs/channel_v.m3u8"); !bytes.Contains(m, []byte("METHOD=SAMPLE-AES")) || !bytes.Contains(m, []byte("EXT-X-MAP")) {
		t.Fatalf("cbcs playlist:\n%s", m)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("runOrigin: %v", err)
	}
	out := stdout.String() + stderr.String() + stopKeys()
	if strings.Contains(out, token) || strings.Contains(out, hex.EncodeToString(key)) || strings.Contains(out, base64.StdEncoding.EncodeToString(key)) {
		t.Fatalf("secret in the output:\n%s", out)
	}
}

func TestOriginEndpointFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", "x=hds"}, "want ID[=ts|cmaf|dash"},
		{[]string{"--endpoint", "x=dash:AES-128", "--key-server", "http://127.0.0.1:1/s"}, "use cenc or cbcs for dash"},
		{[]string{"--endpoint", "x=ts:rot13"}, `unknown encryption "rot13"`},
		{[]string{"--endpoint", "=ts"}, "want ID[=ts|cmaf"},
		{[]string{"--endpoint", "a=ts:AES-128"}, "needs a key provider"},
		{[]string{"--endpoint", "a=ts:cbcs", "--key-server", "http://127.0.0.1:1/s"}, "cbcs needs cmaf or dash packaging"},
		{[]string{"--endpoint", "a=cmaf:cenc", "--keys-file", filepath.Join(dir, "missing.yaml")}, "keys.file"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"--data", dir, "--channel", "c=u:p"}, tc.args...)
		err := runOrigin(context.Background(), args, &out, &errb)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want usage error containing %q", tc.args, err, tc.want)
		}
	}
}
