package main

import (
	"context"
	"net"
	"testing"

	"github.com/applayer/applayer/internal/mailchaos"
	"github.com/applayer/applayer/internal/testutil"
)

// TestSIGKILL runs `applayer mail serve` as a process and kills it with
// SIGKILL again and again while clients submit messages, half for a local
// user, half to relay (internal/mailchaos, the scenario the abuse suite
// runs at full size). After the last restart drains the queue, every
// message that got 250 must have arrived: in the Maildir or at the
// exchanger. Duplicates are allowed only for messages in flight at a kill.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process; skipped in -short mode")
	}
	res, err := mailchaos.Run(context.Background(), mailchaos.Config{
		Bin: bin, Dir: t.TempDir(), Senders: 4, Messages: 1200, Kills: 15,
		WaitFor: func(what string, cond func() bool) { testutil.WaitFor(t, what, cond) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range res.Lost {
		t.Errorf("acknowledged message %s was lost", tok)
	}
	t.Log(res)
	if res.Kills != 15 {
		t.Errorf("%d kills, want 15", res.Kills)
	}
	if res.Acked < 20 {
		t.Errorf("only %d messages acknowledged", res.Acked)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
