package origin

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/keys"
)

// logCapture is a slog handler target recording every line at debug level.
type logCapture struct{ testutil.LockedBuffer }

func (c *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestKeysNeverLogged drives every encrypted endpoint (playlists, init
// sections, segments, I-frames, a key server outage) with the origin and
// the key server logging at debug level, then looks for every key served
// and the token in the logs, in hex, base64 and raw form.
func TestKeysNeverLogged(t *testing.T) {
	var logs logCapture
	const token = "s3cret-t0ken"
	ks, err := keys.NewServer(keys.ServerConfig{Token: token, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	k := &keyEnv{srv: ks, hs: newLoopbackServer(t, ks.Handler()), token: token}
	e := newEnv(t, func(c *Config) {
		allEndpoints(k.speke(t))(c)
		c.Logger = logs.logger()
		for i := range c.Channels[0].Endpoints {
			if en := c.Channels[0].Endpoints[i].Encryption; en != nil {
				en.KeyRotationInterval = Duration(2 * time.Second)
			}
		}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 6)
	seen := map[string]keys.Secret{}
	for _, ep := range []string{"aes", "cmaf-aes", "sample-aes", "cbcs", "cenc"} {
		for _, r := range []string{"channel_video_hi", "channel_audio"} {
			m := e.media("/out/v1/live/" + ep + "/" + r + ".m3u8")
			for _, s := range m.Segments {
				for _, kt := range s.Keys {
					if _, ok := seen[kt.URI]; !ok {
						seen[kt.URI] = k.fetchKey(t, kt.URI)
					}
				}
				if s.Map != nil {
					if code, _ := e.get("/out/v1/live/" + ep + "/" + s.Map.URI); code != http.StatusOK {
						t.Fatalf("%s: %s: %d", ep, s.Map.URI, code)
					}
				}
				if code, _ := e.get("/out/v1/live/" + ep + "/" + s.URI); code != http.StatusOK {
					t.Fatalf("%s: %s: %d", ep, s.URI, code)
				}
			}
			e.get("/out/v1/live/" + ep + "/" + r + "/iframes.m3u8")
		}
	}
	// Errors are logged too: a key server outage for a new period, a
	// refused token.
	k.hs.Close()
	e.pushSteps(l, e.pusher("a"), 6, 9)
	if code, _ := e.get("/out/v1/live/aes/channel_audio.m3u8"); code != http.StatusServiceUnavailable {
		t.Fatalf("outage: %d", code)
	}
	if len(seen) < 3 {
		t.Fatalf("only %d keys seen", len(seen))
	}
	out := logs.String()
	if !strings.Contains(out, "key issued") || !strings.Contains(out, "key for playlist") {
		t.Fatalf("expected log lines missing:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Fatal("token logged")
	}
	for uri, v := range seen {
		for _, form := range []string{hex.EncodeToString(v[:]), strings.ToUpper(hex.EncodeToString(v[:])),
			base64.StdEncoding.EncodeToString(v[:]), base64.RawStdEncoding.EncodeToString(v[:]), string(v[:]), fmt.Sprint(v[:])} {
			if strings.Contains(out, form) {
				t.Fatalf("key of %s logged (%q):\n%s", uri, form, out)
			}
		}
	}
}

func TestKeysConfigHidesToken(t *testing.T) {
	cfg := Config{Keys: KeysConfig{URL: "http://k/speke", Token: "tok-123"}}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "keys", cfg.Keys)
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprint(cfg.Keys), buf.String()} {
		if strings.Contains(s, "tok-123") || !strings.Contains(s, "http://k/speke") {
			t.Fatalf("%s", s)
		}
	}
}
