package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/edgegate/gateway/edge"
	"github.com/edgegate/gateway/edge/config"
)

// runCheck validates a configuration the way serving would (it compiles
// the routes too) and prints every problem as "path.to.key: what is wrong".
func runCheck(args []string) int {
	return check(args, os.Stdout, os.Stderr)
}

func check(args []string, stdout, stderr io.Writer) int {
	s, err := parseFlags("check", args, stderr)
	if err != nil {
		return 2
	}
	cfg, err := s.load()
	if err == nil {
		err = edge.Check(cfg)
	}
	if err != nil {
		printProblems(stderr, s.config, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: configuration is valid\n", s.config)
	return 0
}

// printProblems writes one line per problem.
func printProblems(w io.Writer, file string, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(w, "%s\n", e.Error())
		}
		fmt.Fprintf(w, "%s: %d problem(s)\n", file, len(errs))
		return
	}
	fmt.Fprintf(w, "%s: %v\n", file, err)
}
