package guard

import (
	"net/netip"
	"testing"
)

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true, "93.184.216.34": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false,
		"172.31.255.255": false, "192.168.1.1": false, "169.254.169.254": false, "fe80::1": false,
		"fc00::1": false, "fd12:3456::1": false, "0.0.0.0": false, "::": false, "0.1.2.3": false,
		"100.64.0.1": false, "224.0.0.1": false, "ff02::1": false, "255.255.255.255": false,
		"192.0.2.1": false, "198.18.0.1": false, "2001:db8::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
		"64:ff9b::7f00:1": false, "64:ff9b::808:808": true, "2002:7f00:1::": false, "2002:808:808::": true,
	} {
		if got := IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestHostList(t *testing.T) {
	l, err := NewHostList([]string{"CDN.example.com", "*.media.example.org", "127.0.0.1", "[::1]", " "})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"cdn.example.com": true, "CDN.EXAMPLE.COM.": true, "x.cdn.example.com": false, "example.com": false,
		"media.example.org": true, "a.b.media.example.org": true, "evilmedia.example.org": false,
		"127.0.0.1": true, "::1": true, "::ffff:127.0.0.1": true, "localhost": false, "": false,
	} {
		if got := l.Allows(host); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"http://x.com", "x.com/path", "user@x.com", "*.", "*.1.2.3.4x/", "x.com:80", "*.*.x.com"} {
		if _, err := NewHostList([]string{bad}); err == nil {
			t.Errorf("newHostList(%q) accepted", bad)
		}
	}
}
