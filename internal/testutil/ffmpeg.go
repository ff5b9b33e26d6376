package testutil

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// DecodeFrames has ffmpeg (at level error, -allowed_extensions ALL so
// local playlists and any segment extension pass) decode url to
// -f framemd5 and returns the MD5 of every decoded frame and what ffmpeg
// printed. inputOpts go before -i (e.g. "-headers", "Authorization: ...\r\n").
// It fails t when ffmpeg fails or decodes no frame.
func DecodeFrames(t testing.TB, url string, inputOpts ...string) ([]string, string) {
	t.Helper()
	return decodeFrames(t, url, "", inputOpts)
}

// DecodeStream is DecodeFrames of one stream of url, an ffmpeg -map
// specifier such as "0:v:0" (a DASH manifest's first video
// Representation).
func DecodeStream(t testing.TB, url, stream string) ([]string, string) {
	t.Helper()
	return decodeFrames(t, url, stream, nil)
}

func decodeFrames(t testing.TB, url, stream string, inputOpts []string) ([]string, string) {
	t.Helper()
	bin := RequireTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"-v", "error", "-allowed_extensions", "ALL"}, inputOpts...)
	args = append(args, "-i", url)
	if stream != "" {
		args = append(args, "-map", stream)
	}
	args = append(args, "-f", "framemd5", "-")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", url, err, stderr.String())
	}
	var hashes []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ",")
		hashes = append(hashes, strings.TrimSpace(f[len(f)-1]))
	}
	if len(hashes) == 0 {
		t.Fatalf("ffmpeg %s: no frames\n%s", url, stderr.String())
	}
	return hashes, stderr.String()
}

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
