package main

import "github.com/spf13/cobra"

// newWebCmd is a placeholder until the web subcommands land.
func newWebCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "web", Short: "The Web: HTTP/1.x server and client (not yet built)", Hidden: true}
}
