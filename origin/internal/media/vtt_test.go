package media

import (
	"bytes"
	"testing"
)

func TestShiftTimestampMap(t *testing.T) {
	for _, c := range []struct {
		in   string
		off  int64
		want string
	}{
		{"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n00:00.000 --> 00:01.000\nA\n", 900, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126900,LOCAL:00:00:00.000\n\n00:00.000 --> 00:01.000\nA\n"},
		{"WEBVTT\r\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000,MPEGTS:10\r\n\r\ncue\r\n", -20, "WEBVTT\r\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000,MPEGTS:8589934582\r\n\r\ncue\r\n"},
		{"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:8589934590,LOCAL:00:00:00.000\n", 10, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:8,LOCAL:00:00:00.000\n"},
		// No map, a map only in a cue, or one that does not parse: unchanged.
		{"WEBVTT\n\n00:00.000 --> 00:01.000\nA\n", 5, "WEBVTT\n\n00:00.000 --> 00:01.000\nA\n"},
		{"WEBVTT\n\n00:00.000 --> 00:01.000\nX-TIMESTAMP-MAP=MPEGTS:1\n", 5, "WEBVTT\n\n00:00.000 --> 00:01.000\nX-TIMESTAMP-MAP=MPEGTS:1\n"},
		{"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:x,LOCAL:00:00:00.000\n", 5, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:x,LOCAL:00:00:00.000\n"},
	} {
		if got := string(ShiftTimestampMap([]byte(c.in), c.off)); got != c.want {
			t.Errorf("shift %q by %d:\n%q\nwant\n%q", c.in, c.off, got, c.want)
		}
	}
}

// FuzzShiftTimestampMap: pushed WebVTT never panics the shift, and a
// shift there and back gives what a shift by zero gives.
func FuzzShiftTimestampMap(f *testing.F) {
	f.Add([]byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\nx"), int64(90000))
	f.Add([]byte("X-TIMESTAMP-MAP=MPEGTS:-5"), int64(-1))
	f.Add([]byte("X-TIMESTAMP-MAP="), int64(3))
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		off %= 1 << 40
		back := ShiftTimestampMap(ShiftTimestampMap(data, off), -off)
		if zero := ShiftTimestampMap(data, 0); !bytes.Equal(back, zero) {
			t.Fatalf("%q shifted by %d and back: %q, by zero: %q", data, off, back, zero)
		}
	})
}
