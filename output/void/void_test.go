package void_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputtest"
	"github.com/pullpush/pullpush/output/void"
)

func TestContract(t *testing.T) {
	outputtest.Run(t, func(t *testing.T) (output.Output, outputtest.Reader) {
		return void.New(), nil
	})
}

func TestCountsAndReadsEverything(t *testing.T) {
	o := void.New()
	tg := o.Targets()[0]
	g := outputtest.NewGenerated("channel_720p_1.ts", 3<<20, 7)
	if err := tg.Put(t.Context(), g.File()); err != nil {
		t.Fatal(err)
	}
	if err := tg.Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", []byte("#EXTM3U\n"))); err != nil {
		t.Fatal(err)
	}
	short := outputtest.BytesFile("channel_720p_2.ts", "", []byte("abc"))
	short.Size = 4
	if err := tg.Put(t.Context(), short); err == nil {
		t.Error("short body accepted")
	}
	files, n := o.Stats()
	if files != 2 || n != 3<<20+8 {
		t.Errorf("Stats() = %d files, %d bytes", files, n)
	}
	if g.Opens() != 1 {
		t.Errorf("opened %d times", g.Opens())
	}
	if tg.Name() != "void" || o.Stem() != "channel" {
		t.Errorf("Name %q Stem %q", tg.Name(), o.Stem())
	}
}

var payloadCases = []struct{ name, payload, err string }{
	{"absent", ``, ""},
	{"null", `null`, ""},
	{"empty", `{}`, ""},
	{"unknown", `{"dir":"x"}`, "dir: unknown field"},
	{"array", `[]`, "payload: must be a JSON object"},
}

func TestPayload(t *testing.T) {
	for _, c := range payloadCases {
		o, err := void.Factory.New(json.RawMessage(c.payload))
		if c.err == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else {
				o.Close()
			}
			continue
		}
		if err == nil || err.Error() != c.err || !errors.Is(err, output.ErrInvalidPayload) {
			t.Errorf("%s: error = %v, want %q", c.name, err, c.err)
		}
	}
}

func TestSchema(t *testing.T) {
	outputtest.CheckSchema(t, void.Factory, void.Payload{})
}

func FuzzVoidPayload(f *testing.F) {
	for _, c := range payloadCases {
		f.Add([]byte(c.payload))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		outputtest.CheckPayload(t, void.Factory, payload)
	})
}
