package hls

import (
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Parse parses a multivariant or a media playlist. It decides which from the
// first tag that belongs to only one kind (EXT-X-STREAM-INF, EXT-X-MEDIA, ...
// versus EXTINF, EXT-X-TARGETDURATION, ...) and returns *Multivariant or
// *Media. Input without such a tag is parsed as a media playlist.
//
// Strings in the result (URIs, titles, verbatim tags) share one copy of the
// input, and the segments of a media playlist are allocated together; a
// caller that keeps a few segments of many playlists for a long time should
// copy what it keeps (strings.Clone).
func Parse(data []byte) (Playlist, error) {
	s, err := prepare(data)
	if err != nil {
		return nil, err
	}
	if sniffMultivariant(s) {
		m, err := parseMultivariant(s)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	m, err := parseMedia(s)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// sniffMultivariant reports whether the first tag that belongs to only one
// kind of playlist is a multivariant one.
func sniffMultivariant(s string) bool {
	sc := lineScanner{s: s}
	for {
		line, ok := sc.next()
		if !ok {
			return false
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue
		}
		name, _, _ := splitTag(line)
		switch tagKind(name) {
		case kindMedia:
			return false
		case kindMultivariant:
			return true
		}
	}
}

type kind int

const (
	kindUnknown      kind = iota // not modelled: kept verbatim
	kindBoth                     // allowed in both kinds of playlist
	kindMedia                    // media playlist only
	kindMultivariant             // multivariant playlist only
)

// tagKind classifies a tag name (with its '#').
func tagKind(name string) kind {
	switch name {
	case "#EXTM3U", "#EXT-X-VERSION", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-START":
		return kindBoth
	case "#EXTINF", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE",
		"#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-PLAYLIST-TYPE", "#EXT-X-I-FRAMES-ONLY",
		"#EXT-X-ENDLIST", "#EXT-X-BYTERANGE", "#EXT-X-DISCONTINUITY", "#EXT-X-KEY",
		"#EXT-X-MAP", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE", "#EXT-X-GAP",
		"#EXT-X-BITRATE", "#EXT-X-SERVER-CONTROL", "#EXT-X-PART-INF", "#EXT-X-PART",
		"#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-SKIP":
		return kindMedia
	case "#EXT-X-MEDIA", "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF",
		"#EXT-X-SESSION-DATA", "#EXT-X-SESSION-KEY":
		return kindMultivariant
	}
	return kindUnknown
}

// isHeaderTag reports whether an unmodelled tag describes the whole playlist
// rather than the segment or variant after it. Before the first segment
// (variant) such tags go to the playlist's Tags; everywhere else unknown tags
// stay attached to what follows them.
func isHeaderTag(name string) bool {
	switch name {
	case "#EXT-X-DEFINE",
		"#EXT-X-CONTENT-STEERING", "#EXT-X-ALLOW-CACHE", "#EXT-X-IMAGES-ONLY":
		return true
	}
	return false
}

// ResolveURI resolves a URI found in a playlist against the playlist's own
// URL, as RFC 3986 section 5 describes. A nil base returns ref parsed.
func ResolveURI(base *url.URL, ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("hls: resolve URI: %w", err)
	}
	if base == nil {
		return u, nil
	}
	return base.ResolveReference(u), nil
}

// writeTo writes p.Encode() to w.
func writeTo(w io.Writer, b []byte) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

func appendLines(b []byte, lines []string) []byte {
	for _, l := range lines {
		b = append(b, l...)
		b = append(b, '\n')
	}
	return b
}
