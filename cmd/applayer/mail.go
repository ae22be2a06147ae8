package main

import "github.com/spf13/cobra"

// newMailCmd is a placeholder until the mail subcommands land.
func newMailCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "mail", Short: "E-mail: SMTP server, queue and sending client (not yet built)", Hidden: true}
}
