// Command gateway is the edge API gateway: it serves a configuration file,
// checks one, manages API keys, and prints its version.
//
//	gateway -config FILE          serve (FILE may also come from GATEWAY_CONFIG)
//	gateway check -config FILE    validate and exit 0, or list every problem and exit 1
//	gateway keys issue|rotate|revoke ...
//	                              create, rotate or revoke API keys (hashes only are stored)
//	gateway version               version, Go version, commit
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run dispatches a command line and returns the exit code.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runCheck(args[1:])
		case "version":
			printVersion(os.Stdout)
			return 0
		case "serve":
			return runServe(args[1:])
		case "keys":
			return runKeys(args[1:])
		case "help", "-h", "-help", "--help":
			usage()
			return 0
		}
	}
	return runServe(args)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  gateway [-config FILE] [-listen ADDR] [-admin ADDR] [-redis ADDRS] [-log-level LEVEL]
  gateway check -config FILE
  gateway keys issue -consumer NAME [-plan P] [-expires 720h]
  gateway keys rotate -key RAW [-grace 24h]
  gateway keys revoke -key RAW | -hash HEX
  gateway version

Flags override env vars (GATEWAY_CONFIG, GATEWAY_LISTEN, GATEWAY_ADMIN,
GATEWAY_REDIS, GATEWAY_LOG_LEVEL), which override the file.
`)
}
