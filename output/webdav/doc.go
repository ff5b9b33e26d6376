// Package webdav pushes files with plain HTTP PUT (and optionally DELETE)
// to a directory URL: any WebDAV server, nginx dav module, or object store
// with an HTTP PUT interface. Authentication is none, basic or digest;
// extra headers (for example an API key) can be added to every request.
//
// The REST API uses Factory with the payload
//
//	{"url": "https://host/live/", "auth": "digest", "username": "u", "password": "p",
//	 "deleteExpired": true, "headers": {"X-Api-Key": "..."}, "stem": "channel"}
package webdav
