// Package numbering maps a source playlist's media sequence numbers onto
// the fetcher's output numbers (stage 3 of the fetch pipeline).
//
// Numbering is a pure value, with no I/O and no clock: it keeps the offset
// between source and output numbers, the next output number, the numbers a
// previous run may have pushed without saving them (reserved, skipped after
// a restart), and recent segments by source number, so that a source that
// restarts, goes back, jumps ahead or renumbers its segments never makes a
// pushed name name other bytes. Plan reports what a reload means (an Event:
// first, stale, realigned, went back, changed, jumped, missed) and Assign
// numbers the new segments.
package numbering
