package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/applayer/applayer/lab"
	"github.com/spf13/cobra"
)

func newLabCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "Run every applayer service together as a small Internet on loopback",
	}
	c.AddCommand(newLabUpCmd(g))
	return c
}

func newLabUpCmd(g *globals) *cobra.Command {
	var basePort int
	c := &cobra.Command{
		Use:   "up [--base-port N]",
		Short: "Start every service on loopback, print how to try each, and run until Ctrl-C",
		Long: `Start every service built so far on loopback addresses, print a table of
service, protocol, address and a command to try each, and run until Ctrl-C or
SIGTERM, then shut everything down gracefully.

Every port is the base port plus an offset (the protocol's well-known port
where it has one), so --base-port moves the whole lab.`,
		Example: exampleLines("applayer lab up", "applayer lab up --base-port 20000 --trace"),
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			topo := lab.DefaultTopology()
			topo.BasePort = basePort
			l := &lab.Lab{Topology: topo, Logger: logger, Trace: g.recorder(os.Stderr), Bin: "applayer"}
			ctx, cancel := signalContext()
			defer cancel()
			eps, err := l.Start(ctx)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tPROTOCOL\tADDRESS\tTRY")
			for _, e := range eps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Service, e.Proto, e.Addr, e.Try)
			}
			tw.Flush()
			fmt.Fprintln(out, "\nThe lab is up. Ctrl-C stops it.")

			var runErr error
			select {
			case <-ctx.Done():
			case runErr = <-l.Err():
			}
			fmt.Fprintln(out, "Stopping the lab...")
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if err := l.Shutdown(sctx); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	c.Flags().IntVar(&basePort, "base-port", lab.DefaultBasePort, "every service's port is this plus its offset")
	g.addTrace(c)
	return c
}
