package hls

import (
	"errors"
	"strconv"
)

// Limits applied by the parsers. Larger inputs are rejected before any work.
const (
	// MaxPlaylistSize is the largest playlist the parsers accept (16 MiB).
	MaxPlaylistSize = 16 << 20
	// MaxLineLength is the longest line the parsers accept (1 MiB).
	MaxLineLength = 1 << 20
)

// Sentinel errors that callers may branch on with errors.Is. Parse errors are
// returned as *ParseError wrapping one of these or a more specific error.
var (
	// ErrTooLarge: the input is larger than MaxPlaylistSize.
	ErrTooLarge = errors.New("playlist larger than 16 MiB")
	// ErrLineTooLong: a line is longer than MaxLineLength.
	ErrLineTooLong = errors.New("line longer than 1 MiB")
	// ErrMissingHeader: the first line is not #EXTM3U.
	ErrMissingHeader = errors.New("missing #EXTM3U header")
	// ErrMissingTag: a required tag (e.g. EXT-X-TARGETDURATION) is absent.
	ErrMissingTag = errors.New("missing required tag")
	// ErrMissingURI: EXTINF or EXT-X-STREAM-INF is not followed by a URI line.
	ErrMissingURI = errors.New("missing URI line")
	// ErrUnexpectedURI: a URI line without a preceding EXTINF or EXT-X-STREAM-INF.
	ErrUnexpectedURI = errors.New("unexpected URI line")
	// ErrMultivariantTag: a multivariant-only tag in a media playlist.
	ErrMultivariantTag = errors.New("multivariant playlist tag in a media playlist")
	// ErrMediaTag: a media-only tag in a multivariant playlist.
	ErrMediaTag = errors.New("media playlist tag in a multivariant playlist")
)

// ParseError is the error returned by the parsers. Its message has the form
//
//	hls: line 7: EXTINF: invalid duration "abc"
type ParseError struct {
	Line int    // 1-based line number; 0 when the error concerns the whole playlist
	Tag  string // tag name without '#' (e.g. "EXTINF"); empty when no tag is involved
	Err  error  // the underlying error
}

// Error implements error.
func (e *ParseError) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "hls: "...)
	if e.Line > 0 {
		b = append(b, "line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
		b = append(b, ": "...)
	}
	if e.Tag != "" {
		b = append(b, e.Tag...)
		b = append(b, ": "...)
	}
	if e.Err != nil {
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// lineError builds a *ParseError; tag is the tag as written ("#EXTINF") or "".
func lineError(line int, tag string, err error) error {
	if len(tag) > 0 && tag[0] == '#' {
		tag = tag[1:]
	}
	return &ParseError{Line: line, Tag: tag, Err: err}
}
