package fetch

import "testing"

func TestWithDirectives(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://127.0.0.1/a/v.m3u8", "http://127.0.0.1/a/v.m3u8?_HLS_msn=12&_HLS_part=3"},
		{"http://127.0.0.1/a/v.m3u8?token=x", "http://127.0.0.1/a/v.m3u8?token=x&_HLS_msn=12&_HLS_part=3"},
		{"http://127.0.0.1/a/v.m3u8?token=x#f", "http://127.0.0.1/a/v.m3u8?token=x&_HLS_msn=12&_HLS_part=3#f"},
	} {
		if got := withDirectives(c.in, 12, 3); got != c.want {
			t.Errorf("withDirectives(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
