package mediapackagev2_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/mediapackagev2"
)

// TestPayload: a good payload builds an output with one target per ingest
// URL; a missing key, a stray digest field or a third URL is an error
// naming the field; Redact hides the secret key.
func TestPayload(t *testing.T) {
	good := `{"ingestUrls":[{"url":"https://h/in/v1/g/c/1/channel","accessKeyId":"AK","secretAccessKey":"sk-0123456789","region":"eu-north-1"},
		{"url":"https://h2/in/v1/g/c/2/channel","accessKeyId":"AK","secretAccessKey":"sk-0123456789","region":"eu-north-1","service":"mediapackagev2"}]}`
	o, err := mediapackagev2.Factory.New(json.RawMessage(good))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if n := len(o.Targets()); n != 2 || o.Stem() != "channel" {
		t.Fatalf("%d targets, stem %q", n, o.Stem())
	}
	for _, tg := range o.Targets() {
		if output.AcceptsParts(tg) {
			t.Fatalf("target %s takes LL-HLS parts without lowLatency", tg.Name())
		}
	}
	ll, err := mediapackagev2.Factory.New(json.RawMessage(`{"lowLatency":true,` + good[1:]))
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	if !output.AcceptsParts(ll.Targets()[0]) || !output.AcceptsParts(ll.Targets()[1]) {
		t.Fatal("with lowLatency the targets do not take LL-HLS parts")
	}
	if red := string(mediapackagev2.Factory.Redact(json.RawMessage(good))); strings.Contains(red, "sk-0123456789") || !strings.Contains(red, `"accessKeyId":"AK"`) {
		t.Fatalf("redacted: %s", red)
	}
	for _, c := range []struct{ payload, want string }{
		{`{"ingestUrls":[{"url":"https://h/in/channel","accessKeyId":"AK","secretAccessKey":"s"}]}`, "ingestUrls[0].region: required"},
		{`{"ingestUrls":[{"url":"https://h/in/channel","secretAccessKey":"s","region":"r"}]}`, "ingestUrls[0].accessKeyId: required"},
		{`{"ingestUrls":[{"url":"https://h/in/channel","accessKeyId":"AK","region":"r"}]}`, "ingestUrls[0].secretAccessKey: required"},
		{`{"ingestUrls":[{"url":"https://h/in/channel","username":"u","accessKeyId":"AK","secretAccessKey":"s","region":"r"}]}`, "username"},
		{`{"ingestUrls":[]}`, "ingestUrls"},
	} {
		if _, err := mediapackagev2.Factory.New(json.RawMessage(c.payload)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.payload, err, c.want)
		}
	}
}
