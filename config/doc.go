// Package config loads the configuration of the long-running pullpush
// commands in layers: built-in defaults, then an optional YAML file, then
// PULLPUSH_* environment variables, then command-line flags. Every key has
// the same name in the file (camelCase), as a flag (kebab-case) and as an
// environment variable (PULLPUSH_ + UPPER_SNAKE). Unknown keys in a file are
// an error naming the key; every validation error quotes the key.
package config
