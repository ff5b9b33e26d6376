// Package config decodes and validates the channel engine's configuration:
// the channels, their assets (local directories, embed: paths, http URLs),
// orders, epochs and windows, and the ids the engine derives for assets and
// ads. YAML and JSON are read strictly (an unknown key is an error naming its
// path). Package channel re-exports the types as aliases (channel.Config,
// channel.ParseConfig, ...), so callers never import this package.
package config
