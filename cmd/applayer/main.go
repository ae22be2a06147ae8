// Command applayer is the Internet's application layer in one binary: the
// servers and clients of every system a networking course's
// application-layer chapter describes, and a lab that runs them together on
// loopback. Each subcommand is a thin client of a package of this module;
// `applayer --help` lists them.
package main

import (
	"fmt"
	"os"
)

func main() {
	if c, err := newRoot().ExecuteC(); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(c, err))
		os.Exit(1)
	}
}
