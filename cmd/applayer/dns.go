package main

import "github.com/spf13/cobra"

// newDNSCmd is a placeholder until the dns subcommands land.
func newDNSCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "dns", Short: "DNS: authoritative server, resolver and query client (not yet built)", Hidden: true}
}
