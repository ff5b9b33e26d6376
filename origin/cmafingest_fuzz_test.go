package origin

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pullpush/pullpush/origin/internal/media"
)

// FuzzCMAFIngest feeds arbitrary request bodies to the CMAF ingest box
// stream reader (boxes, init segments, fragments, segment assembly and
// indexing): it never panics or hangs, and every refusal is a 4xx for the
// pusher. Seeds under testdata/fuzz/FuzzCMAFIngest hold a real init segment
// with fragments (the fMP4 test media), truncated and reordered.
func FuzzCMAFIngest(f *testing.F) {
	o, err := New(Config{DataDir: f.TempDir(), Channels: []ChannelConfig{{ID: testChannel, Username: testUser, Password: testPass, ManifestWindow: 10 * time.Second}}})
	if err != nil {
		f.Fatal(err)
	}
	defer o.Close()
	o.cfg.MaxBodyBytes = 1 << 20
	ch := o.lookup(testChannel)
	f.Fuzz(func(t *testing.T, data []byte) {
		ch.mu.Lock()
		in, err := ch.input("a")
		ch.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		p, _ := parseCMAFPath("/in/v2/" + testChannel + "/a/Streams(v.cmfv)")
		tr := o.cmaf.track(testChannel, "a", "v")
		req := httptest.NewRequest(http.MethodPost, "/in/v2/"+testChannel+"/a/Streams(v.cmfv)", bytes.NewReader(data))
		err = o.readCMAF(httptest.NewRecorder(), req, ch, in, tr, p)
		var se *errStatusErr
		if err != nil && !errors.As(err, &se) && !errors.Is(err, media.ErrBox) && !errors.Is(err, media.ErrBoxTooLarge) {
			t.Fatalf("unclassified error %v", err)
		}
		if se != nil && se.status >= 500 {
			t.Fatalf("server error for bad input: %v", err)
		}
	})
}
