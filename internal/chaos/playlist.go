package chaos

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors of the playlist rewriter; the proxy passes such a body through
// unchanged.
var (
	errNotPlaylist      = errors.New("not an HLS playlist (no #EXTM3U first line)")
	errNotMedia         = errors.New("not a media playlist")
	errNothingToSkip    = errors.New("fewer than two segments: nothing to skip")
	errSequenceOverflow = errors.New("sequence number overflow")
)

// mediaPlaylist is a media playlist cut into lines by a plain line scanner,
// with the positions of the lines the rewrites touch. Everything else,
// including unknown tags, is kept verbatim.
type mediaPlaylist struct {
	lines    []string // raw lines without "\n"; a trailing "\r" is kept
	crlf     bool     // the first line ends in "\r\n": inserted lines do too
	seqLine  int      // index of EXT-X-MEDIA-SEQUENCE, -1 when absent
	seq      uint64   // its value (0 when absent)
	discLine int      // index of EXT-X-DISCONTINUITY-SEQUENCE, -1 when absent
	disc     uint64   // its value (0 when absent)
	segs     []segment
}

// segment is one media segment: its URI line and the number of
// EXT-X-DISCONTINUITY tags in front of it (since the previous URI line).
type segment struct {
	uri           int
	discontinuity uint64
}

const (
	tagMediaSequence         = "#EXT-X-MEDIA-SEQUENCE"
	tagDiscontinuitySequence = "#EXT-X-DISCONTINUITY-SEQUENCE"
)

// isPlaylistTag reports tags that describe the whole playlist, or (KEY, MAP)
// apply to every following segment: dropping segments keeps them in place.
func isPlaylistTag(name string) bool {
	switch name {
	case "#EXTM3U", "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", tagMediaSequence, tagDiscontinuitySequence,
		"#EXT-X-PLAYLIST-TYPE", "#EXT-X-ENDLIST", "#EXT-X-I-FRAMES-ONLY", "#EXT-X-INDEPENDENT-SEGMENTS",
		"#EXT-X-START", "#EXT-X-SERVER-CONTROL", "#EXT-X-PART-INF", "#EXT-X-ALLOW-CACHE", "#EXT-X-DEFINE",
		"#EXT-X-SKIP", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-KEY", "#EXT-X-MAP":
		return true
	}
	return false
}

// isMultivariantTag reports tags that only occur in multivariant playlists.
func isMultivariantTag(name string) bool {
	switch name {
	case "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA", "#EXT-X-SESSION-DATA",
		"#EXT-X-SESSION-KEY", "#EXT-X-CONTENT-STEERING":
		return true
	}
	return false
}

// parseMediaPlaylist scans body. A media playlist starts with #EXTM3U, has
// an EXTINF, EXT-X-TARGETDURATION or EXT-X-MEDIA-SEQUENCE tag and no
// multivariant tag; its sequence tags, when present, must be unique decimal
// integers.
func parseMediaPlaylist(body []byte) (*mediaPlaylist, error) {
	lines := strings.Split(string(body), "\n")
	first := strings.TrimPrefix(lines[0], "\uFEFF")
	if strings.TrimSpace(first) != "#EXTM3U" {
		return nil, errNotPlaylist
	}
	m := &mediaPlaylist{lines: lines, crlf: strings.HasSuffix(first, "\r"), seqLine: -1, discLine: -1}
	media := false
	var discs uint64
	for i := 1; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			m.segs = append(m.segs, segment{uri: i, discontinuity: discs})
			discs = 0
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		switch {
		case isMultivariantTag(name):
			return nil, errNotMedia
		case name == "#EXTINF" || name == "#EXT-X-TARGETDURATION":
			media = true
		case name == "#EXT-X-DISCONTINUITY":
			discs++
		case name == tagMediaSequence || name == tagDiscontinuitySequence:
			at, v := &m.seqLine, &m.seq
			if name == tagDiscontinuitySequence {
				at, v = &m.discLine, &m.disc
			}
			if *at >= 0 {
				return nil, fmt.Errorf("line %d: duplicate %s", i+1, name)
			}
			n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: invalid value %q", i+1, name, value)
			}
			*at, *v = i, n
			media = true
		}
	}
	if !media {
		return nil, errNotMedia
	}
	return m, nil
}

// uris returns the segment URIs, trimmed.
func (m *mediaPlaylist) uris() []string {
	out := make([]string, len(m.segs))
	for i, s := range m.segs {
		out[i] = strings.TrimSpace(m.lines[s.uri])
	}
	return out
}

// withSequence returns the playlist with EXT-X-MEDIA-SEQUENCE set to seq.
func (m *mediaPlaylist) withSequence(seq uint64) []byte {
	return m.render(seq, m.disc, 0)
}

// skip returns the playlist without its first k segments (at most all but
// the last), with the sequence numbers raised to match, and the number of
// segments dropped.
func (m *mediaPlaylist) skip(k int) ([]byte, int, error) {
	if k < 1 {
		return nil, 0, fmt.Errorf("skip %d segments: must be at least 1", k)
	}
	if len(m.segs) < 2 {
		return nil, 0, errNothingToSkip
	}
	drop := min(k, len(m.segs)-1)
	var discs uint64
	for _, s := range m.segs[:drop] {
		discs += s.discontinuity
	}
	if m.seq > math.MaxUint64-uint64(drop) || m.disc > math.MaxUint64-discs {
		return nil, 0, errSequenceOverflow
	}
	return m.render(m.seq+uint64(drop), m.disc+discs, drop), drop, nil
}

// render writes the playlist with the given sequence numbers, dropping the
// lines of the first drop segments except playlist-wide tags. A sequence tag
// that is absent is inserted after #EXTM3U unless its value is 0.
func (m *mediaPlaylist) render(seq, disc uint64, drop int) []byte {
	cr := ""
	if m.crlf {
		cr = "\r"
	}
	dropEnd := 0 // lines [1, dropEnd) belong to dropped segments
	if drop > 0 {
		dropEnd = m.segs[drop-1].uri + 1
	}
	out := make([]string, 0, len(m.lines)+2)
	for i, line := range m.lines {
		switch {
		case i == m.seqLine:
			out = append(out, tagMediaSequence+":"+strconv.FormatUint(seq, 10)+lineCR(line))
		case i == m.discLine:
			out = append(out, tagDiscontinuitySequence+":"+strconv.FormatUint(disc, 10)+lineCR(line))
		case i >= 1 && i < dropEnd && !keptWhenDropping(line):
			// part of a dropped segment
		default:
			out = append(out, line)
		}
		if i == 0 {
			if m.seqLine < 0 && seq != 0 {
				out = append(out, tagMediaSequence+":"+strconv.FormatUint(seq, 10)+cr)
			}
			if m.discLine < 0 && disc != 0 {
				out = append(out, tagDiscontinuitySequence+":"+strconv.FormatUint(disc, 10)+cr)
			}
		}
	}
	return []byte(strings.Join(out, "\n"))
}

func keptWhenDropping(line string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(line), ":")
	return isPlaylistTag(name)
}

func lineCR(line string) string {
	if strings.HasSuffix(line, "\r") {
		return "\r"
	}
	return ""
}
