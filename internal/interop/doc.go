// Package interop holds end-to-end tests of the whole chain with clients
// nobody in this project wrote: the bundled VOD2Live channel is relayed
// through the mediapackage output into the origin, and ffmpeg decodes
// every packaging endpoint frame by frame against the clear TS endpoint.
package interop
