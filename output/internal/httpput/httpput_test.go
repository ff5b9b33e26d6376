package httpput

import (
	"strings"
	"testing"
)

func TestExcerpt(t *testing.T) {
	cases := []struct{ body, secret, want string }{
		{"", "", ""},
		{"  <html>\n<b>Bad\tGateway</b>\r\n</html> ", "", "<html> <b>Bad Gateway</b> </html>"},
		{"auth failed for hunter2-pass", "hunter2-pass", "auth failed for ***"},
		{"short pw abc", "abc", "short pw abc"},
		{"bin\x00\xff\xfedata", "", "bin ?data"},
		{strings.Repeat("é", 300), "", strings.Repeat("é", 200) + "..."},
	}
	for _, c := range cases {
		if got := Excerpt([]byte(c.body), c.secret); got != c.want {
			t.Errorf("Excerpt(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}
