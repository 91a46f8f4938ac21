package main

import (
	"fmt"
	"io"
	"runtime"
)

// Set at build time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = "unknown"
)

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "gateway %s\ngo %s\ncommit %s\n", version, runtime.Version(), commit)
}
