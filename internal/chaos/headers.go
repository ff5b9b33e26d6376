package chaos

import (
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
)

// readUpTo reads r up to limit bytes; whole is false when r had more.
func readUpTo(r io.Reader, limit int64) (data []byte, whole bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > limit {
		return data, false, nil
	}
	return data, true, nil
}

// isPlaylist guesses from the path and Content-Type whether a body is an
// HLS playlist.
func isPlaylist(p, contentType string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".m3u8" || ext == ".m3u" || strings.Contains(strings.ToLower(contentType), "mpegurl")
}

// encoded reports a Content-Encoding other than identity.
func encoded(h http.Header) bool {
	ce := h.Get("Content-Encoding")
	return ce != "" && !strings.EqualFold(ce, "identity")
}

// bodyAllowed reports whether a response with this status may carry a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// hopHeaders are removed when forwarding (RFC 9110 section 7.6.1).
func isHopHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// removeHopHeaders deletes hop-by-hop headers, including those named in
// Connection.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for k := range h {
		if isHopHeader(k) {
			delete(h, k)
		}
	}
}

// copyHeader copies the end-to-end headers of src into dst.
func copyHeader(dst, src http.Header) {
	connection := src.Values("Connection")
	for k, vv := range src {
		if isHopHeader(k) || listedIn(connection, k) {
			continue
		}
		dst[k] = slices.Clone(vv)
	}
}

func listedIn(connection []string, k string) bool {
	for _, v := range connection {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), k) {
				return true
			}
		}
	}
	return false
}
