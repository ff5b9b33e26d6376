package testutil

import (
	"regexp"
	"strings"
)

// trailingAUNote is what ffmpeg's H.264 parser prints for the access unit
// delimiter (and end of sequence) that closes the last SAMPLE-AES segment
// of a closed playlist (see origin's appendAUDPES): no frame is lost or
// changed, the parser only notes an access unit without a picture.
var trailingAUNote = regexp.MustCompile(`^\[NULL @ 0x[0-9a-f]+\] missing picture in access unit with size (6|11)$`)

// DecoderErrors returns what ffmpeg printed at level error, without the
// parser's note on a closing access unit delimiter when it is the last
// line.
func DecoderErrors(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if n := len(lines); n > 0 && trailingAUNote.MatchString(lines[n-1]) {
		lines = lines[:n-1]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
