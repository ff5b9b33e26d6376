// Package naming makes the fetcher's output names: rendition names from
// source URIs (short, unique, stable), file name sanitising, short hashes
// for auxiliary files (keys, init segments), segment extensions and content
// types. Pure functions.
package naming
