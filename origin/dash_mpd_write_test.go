package origin

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/pullpush/pullpush/origin/internal/dash"
)

// fillAll sets every field reachable from v (a pointer) to a non-zero
// value: strings with characters XML escapes, numbers, true, pointers
// allocated and two elements in every slice; with zero set, it leaves the
// values zero but still allocates pointers and slices, so omitempty is
// exercised too.
func fillAll(v reflect.Value, zero bool, n *int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillAll(v.Elem(), zero, n)
	case reflect.Struct:
		if v.Type().String() == "xml.Name" {
			return
		}
		for i := range v.NumField() {
			fillAll(v.Field(i), zero, n)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillAll(s.Index(i), zero, n)
		}
		v.Set(s)
	case reflect.String:
		if !zero {
			*n++
			v.SetString("v" + string(rune('a'+*n%26)) + ` <&>"'` + "\t\n\xff")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if !zero {
			*n++
			v.SetInt(int64(*n))
		}
	case reflect.Uint64, reflect.Uint32:
		if !zero {
			*n++
			v.SetUint(uint64(*n))
		}
	case reflect.Bool:
		v.SetBool(!zero)
	default:
		panic("fillAll: add kind " + v.Kind().String())
	}
}

// TestMPDWriterMatchesXML: the hand-written MPD writer gives the bytes
// encoding/xml gives, for an MPD with every field of the model set, one
// with every field zero, and the MPDs of a live endpoint (Periods, trick
// play, subtitles, events). A field added to the model and not to the
// writer fails here.
func TestMPDWriterMatchesXML(t *testing.T) {
	for _, zero := range []bool{false, true} {
		m := &dash.MPD{}
		n := 0
		fillAll(reflect.ValueOf(m), zero, &n)
		if zero {
			// encoding/xml writes the Signal's namespace from its XMLName.
			for _, p := range m.Periods {
				for _, es := range p.EventStreams {
					for _, ev := range es.Events {
						ev.Signal.XMLName.Space = dash.SCTE35Namespace
					}
				}
			}
		}
		compareMPDWriters(t, m)
	}
	e := dashEnv(t, nil)
	l := adLive(t, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 14)
	ch := e.o.lookup(testChannel)
	for _, q := range []shift{{}, {hasStart: true, start: l.epoch.Add(4e9), hasEnd: true, end: l.epoch.Add(13e9)}} {
		ch.mu.Lock()
		b, es := ch.dashManifest(ch.endpoint("dash"), q, "http://127.0.0.1/time", nil)
		ch.mu.Unlock()
		if es != nil {
			t.Fatal(es)
		}
		compareMPDWriters(t, b.m)
	}
}

func compareMPDWriters(t *testing.T, m *dash.MPD) {
	t.Helper()
	got, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.EncodeXML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the MPD writer differs from encoding/xml at byte %d:\n...%s\nwant\n...%s", i, got[max(0, i-200):min(len(got), i+200)], want[max(0, i-200):min(len(want), i+200)])
	}
}
