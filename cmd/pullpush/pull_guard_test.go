package main

import (
	"errors"
	"strings"
	"testing"
)

func TestPullAllowHostsAndDenyPrivate(t *testing.T) {
	_, url := endingSource(t) // on 127.0.0.1
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"host off the list", []string{"--allow-hosts", "cdn.example.com, *.example.org"}, `host "127.0.0.1" is not in the allowed hosts`},
		{"malformed host", []string{"--allow-hosts", "http://cdn.example.com"}, "want a host name"},
		{"private source", []string{"--deny-private"}, "127.0.0.1 is a private, loopback or reserved address"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			out, err := runPullCmd(t, append([]string{"--url", url, "--output", "void"}, c.args...)...)
			if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a usage error mentioning %q; output %s", err, c.want, out)
			}
		})
	}
	// A listed host relays to the end.
	out, err := runPullCmd(t, "--url", url, "--output", "void", "--allow-hosts", "localhost,127.0.0.1")
	if err != nil || !strings.Contains(out, "state=ended") {
		t.Fatalf("pull with the source host allowed: %v\n%s", err, out)
	}
}
