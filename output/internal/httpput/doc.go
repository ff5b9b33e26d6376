// Package httpput is the HTTP client shared by the mediapackage and webdav
// outputs: streamed PUT and DELETE of files below one directory URL, with
// optional basic or digest authentication, per-request timeouts and
// sanitised errors.
package httpput
