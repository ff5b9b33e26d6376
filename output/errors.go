package output

import "fmt"

// StatusError is returned by targets when the destination answered with a
// non-success status (an HTTP status outside 2xx, or an S3 error response).
// Callers may branch on StatusCode (for example to stop retrying on 401 or
// 403). It never holds credentials.
type StatusError struct {
	Op         string // "PUT", "DELETE"
	URL        string // destination without credentials or query
	StatusCode int    // e.g. 401
	Status     string // e.g. "401 Unauthorized"
	Body       string // short, sanitised excerpt of the response body
}

// Error implements error: "PUT http://h/in/channel.m3u8: 401 Unauthorized: excerpt".
func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Op, e.URL, e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}
