// Package logkey holds the log/slog keys that several packages share, so
// that one thing has one spelling in every log line. Keys used by one
// package only stay constants of that package.
package logkey

// Err is the key of an error value in every log line ("err").
const Err = "err"
