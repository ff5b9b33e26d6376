package interop

import (
	"context"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/cdp"
	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin"
)

// shakaVersion is the Shaka Player release the browser test installs.
const shakaVersion = "4"

// shakaPage plays the MPD of ?mpd= with the Clear Key keys of ?keys=
// (JSON: hex key ID -> hex key), recording errors and Period changes.
const shakaPage = `<!doctype html>
<html><body>
<video id="v" muted autoplay playsinline width="320" height="180"></video>
<script src="/shaka-player.compiled.js"></script>
<script>
window.errors = []; window.periods = 0; window.drm = '';
(async () => {
  const q = new URLSearchParams(location.search);
  shaka.polyfill.installAll();
  const v = document.getElementById('v');
  const p = new shaka.Player();
  window.player = p;
  p.addEventListener('error', e => window.errors.push(JSON.stringify(e.detail)));
  p.addEventListener('trackschanged', () => {});
  await p.attach(v);
  p.configure({drm: {clearKeys: JSON.parse(q.get('keys'))}});
  try {
    await p.load(q.get('mpd'));
    window.drm = p.keySystem();
  } catch (e) {
    window.errors.push(JSON.stringify(e));
  }
})();
</script>
</body></html>`

// TestShakaClearKeyDASH plays the cenc DASH endpoint of the whole chain
// (channel → relay → origin) in Shaka Player in headless Chromium,
// decrypting with Clear Key: the player is given the keys the key server
// (the one `pullpush keys` runs) holds for the MPD's default_KIDs, plays
// live across the channel's asset boundary, and reports no error. The
// same endpoint without keys must fail to play, so decryption is real.
func TestShakaClearKeyDASH(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	js := testutil.NPMFile(t, "shaka-player", shakaVersion, "dist/shaka-player.compiled.js")

	// The loop began 24 s ago: asset a ends 30 s into it, so 10 s of
	// playback from the live edge cross into asset b (a new Period).
	c := chaintest.Start(t, 24*time.Second, []origin.EndpointConfig{
		{ID: "ts"},
		// One key (no rotation): the player is given the keys
		// once, and the default 60 s rotation could bring a key it lacks on
		// a slow run.
		{ID: "cenc", Packaging: origin.PackagingDASH, Encryption: &origin.EncryptionConfig{Method: origin.MethodCENC, KeyRotationInterval: origin.Duration(0)}},
	})
	mpdPath := "/out/v1/" + channelID + "/cenc/index.mpd"
	var kids []string
	testutil.Eventually(t, time.Minute, func() bool {
		b, err := c.Get(mpdPath)
		if err != nil {
			return false
		}
		kids = defaultKIDs(t, b)
		return len(kids) > 0
	}, "no default_KID in the cenc MPD")
	keys := map[string]string{}
	for _, kid := range kids {
		raw, err := c.Get("/keys/" + channelID + "/" + kid)
		if err != nil {
			t.Fatalf("key %s from the key server: %v", kid, err)
		}
		keys[kid] = hex.EncodeToString(raw)
	}

	// The page and player come from a second loopback server that proxies
	// the chain's /out/ (same origin for the page and the MPD).
	chain, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(chain)
	mux := http.NewServeMux()
	mux.Handle("/out/", proxy)
	mux.HandleFunc("/shaka-player.compiled.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(js)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(shakaPage))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := cdp.StartT(t, ctx, chromium, "--autoplay-policy=no-user-gesture-required")

	play := func(keys map[string]string) *cdp.Page {
		t.Helper()
		page := b.OpenPage(t, ctx)
		if err := page.Call(ctx, "Runtime.enable", nil, nil); err != nil {
			t.Fatal(err)
		}
		var kj strings.Builder
		kj.WriteString("{")
		i := 0
		for k, v := range keys {
			if i > 0 {
				kj.WriteString(",")
			}
			fmt.Fprintf(&kj, "%q:%q", k, v)
			i++
		}
		kj.WriteString("}")
		q := url.Values{"mpd": {mpdPath}, "keys": {kj.String()}}
		if err := page.Navigate(ctx, srv.URL+"/?"+q.Encode()); err != nil {
			t.Fatal(err)
		}
		return page
	}
	type state struct {
		Time   float64  `json:"time"`
		Paused bool     `json:"paused"`
		Ready  int      `json:"ready"`
		Live   bool     `json:"live"`
		DRM    string   `json:"drm"`
		Width  int      `json:"width"`
		Errors []string `json:"errors"`
	}
	const stateJS = `(() => {
		const v = document.getElementById('v'), p = window.player;
		if (!v || !p) return null;
		return {time: v.currentTime, paused: v.paused, ready: v.readyState, live: p.isLive(),
			drm: window.drm, width: v.videoWidth, errors: window.errors};
	})()`
	eval := func(page *cdp.Page) state {
		t.Helper()
		var st state
		if err := page.Evaluate(ctx, stateJS, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	page := play(keys)
	defer page.Close()
	var st state
	first := -1.0
	boundary := c.Start.Add(30 * time.Second)
	testutil.Eventually(t, 90*time.Second, func() bool {
		st = eval(page)
		if len(st.Errors) > 0 {
			t.Fatalf("Shaka errors: %v", st.Errors)
		}
		if st.Time > 0 && first < 0 {
			first = st.Time
		}
		// Playback time in a live DASH stream is seconds since
		// availabilityStartTime; 4 s past the asset boundary proves the
		// Period change was played through.
		return first > 0 && !st.Paused && st.Ready >= 3 && st.Time > first+8 && time.Now().After(boundary.Add(4*time.Second))
	}, "Shaka did not play 8 s of the cenc endpoint across the asset boundary: %+v (first %.1f)", &st, &first)
	t.Logf("Shaka %s: key system %q, played %.1f s live, %d px wide", shakaVersion, st.DRM, st.Time-first, st.Width)
	if st.DRM != "org.w3.clearkey" || !st.Live || st.Width == 0 {
		t.Errorf("player state %+v, want live playback decrypted with org.w3.clearkey", st)
	}

	// Wrong keys: the player cannot decrypt, so it fails or never plays.
	wrong := map[string]string{}
	for k := range keys {
		wrong[k] = strings.Repeat("00", 16)
	}
	bad := play(wrong)
	defer bad.Close()
	testutil.Eventually(t, time.Minute, func() bool {
		st = eval(bad)
		return len(st.Errors) > 0
	}, "Shaka played the cenc endpoint with wrong keys: %+v", &st)
	t.Logf("with wrong keys: %v (played to %.1f s)", st.Errors[0], st.Time)
}

// defaultKIDs returns the cenc:default_KID values of an MPD, in the hex
// form of the key server's URLs.
func defaultKIDs(t *testing.T, mpd []byte) []string {
	t.Helper()
	var doc struct {
		Periods []struct {
			Sets []struct {
				CP []struct {
					KID string `xml:"urn:mpeg:cenc:2013 default_KID,attr"`
				} `xml:"ContentProtection"`
			} `xml:"AdaptationSet"`
		} `xml:"Period"`
	}
	if err := xml.Unmarshal(mpd, &doc); err != nil {
		t.Fatalf("MPD: %v", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range doc.Periods {
		for _, as := range p.Sets {
			for _, cp := range as.CP {
				k := strings.ToLower(strings.ReplaceAll(cp.KID, "-", ""))
				if k != "" && !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
	}
	return out
}
