package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path"
	"strings"
)

// SanitizeName keeps [A-Za-z0-9-] and maps everything else to '-'.
func SanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if ok {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 40 {
		out = strings.Trim(out[len(out)-40:], "-")
	}
	return out
}

func ShortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// RenditionNames derives stable, unique, file-name-safe names from rendition
// URIs: the playlist file name without extension, extended with parent
// directories until unique, with a short hash of the URI as the last resort.
// The same URIs always give the same names, whatever their order.
func RenditionNames(uris []string) map[string]string {
	type cand struct {
		uri   string
		parts []string
	}
	cands := make([]cand, len(uris))
	for i, u := range uris {
		p := u
		if pu, err := url.Parse(u); err == nil {
			p = pu.Path
		}
		p = strings.TrimSuffix(p, path.Ext(p))
		var parts []string
		for _, s := range strings.Split(p, "/") {
			if s = SanitizeName(s); s != "" {
				parts = append(parts, s)
			}
		}
		cands[i] = cand{uri: u, parts: parts}
	}
	names := make(map[string]string, len(uris))
	nameOf := func(c cand, depth int) string {
		if len(c.parts) == 0 {
			return ""
		}
		if depth > len(c.parts) {
			depth = len(c.parts)
		}
		return SanitizeName(strings.Join(c.parts[len(c.parts)-depth:], "-"))
	}
	for depth := 1; depth <= 4; depth++ {
		count := map[string]int{}
		for _, c := range cands {
			if _, done := names[c.uri]; !done {
				count[nameOf(c, depth)]++
			}
		}
		for _, n := range names {
			count[n]++
		}
		for _, c := range cands {
			if _, done := names[c.uri]; done {
				continue
			}
			n := nameOf(c, depth)
			if n != "" && count[n] == 1 {
				names[c.uri] = n
			}
		}
	}
	for _, c := range cands {
		if _, done := names[c.uri]; !done {
			base := nameOf(c, 1)
			if base == "" {
				base = "r"
			}
			names[c.uri] = SanitizeName(base + "-" + ShortHash(c.uri))
		}
	}
	return names
}

// SegmentExt returns the file extension (with dot) to use for a pushed copy
// of a source file, defaulting to def.
func SegmentExt(uri, def string) string {
	p := uri
	if pu, err := url.Parse(uri); err == nil {
		p = pu.Path
	}
	ext := strings.ToLower(path.Ext(p))
	if len(ext) < 2 || len(ext) > 6 {
		return def
	}
	for _, r := range ext[1:] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return def
		}
	}
	return ext
}

// ContentType maps a pushed file extension to its MIME type.
func ContentType(ext string) string {
	switch ext {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".aac":
		return "audio/aac"
	case ".ac3":
		return "audio/ac3"
	case ".ec3":
		return "audio/eac3"
	case ".mp3":
		return "audio/mpeg"
	case ".mp4", ".m4s", ".cmfv", ".m4v":
		return "video/mp4"
	case ".cmfa", ".m4a":
		return "audio/mp4"
	case ".vtt", ".webvtt":
		return "text/vtt"
	case ".key":
		return "application/octet-stream"
	}
	return "application/octet-stream"
}
