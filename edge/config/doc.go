// Package config reads, completes and checks the gateway's configuration
// file.
//
// It owns the file format (the structs in types.go), the defaults of every
// setting, and every check that can be made before the gateway starts
// serving: a config that passes Validate can be compiled by the other
// packages without further input errors. Load and Parse run the whole
// pipeline: a strict decode of the YAML that reports unknown keys and
// wrong types, the command-line and environment Overrides, Defaults, then
// Validate. All problems of a file are reported together, each as a key
// path and a message ("routes[2].match.path: must start with /"), in the
// order they appear in the file, so that `gateway check` can print them
// the way `nginx -t` does.
//
// Nothing here is on the request path: a Config is read once per load or
// reload and must not be modified once it has been handed to the compiling
// packages.
package config
