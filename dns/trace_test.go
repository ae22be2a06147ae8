package dns

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/applayer/applayer/internal/transcript"
)

// TestServerTranscript checks the one-line summaries a traced server and
// client record for each message.
func TestServerTranscript(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	rec := transcript.New(transcript.SinkFunc(func(e transcript.Event) {
		mu.Lock()
		lines = append(lines, e.Proto+" "+e.Dir.String()+": "+e.Text)
		mu.Unlock()
	}))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Trace: rec, UDPWorkers: 1, Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		var m Msg
		m.SetReply(r.Msg)
		m.Rcode = RcodeNXDomain
		w.WriteMsg(&m)
	})}
	done := make(chan struct{})
	go func() { s.ServePacket(pc); close(done) }()
	defer func() { s.Close(); <-done }()
	c := &Client{Trace: rec}
	if _, err := c.Exchange(context.Background(), new(Msg).SetQuestion(0, "nope.example.", TypeA), pc.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	for _, want := range []string{"dns/udp C: query", "nope.example. A [rd]", "dns/udp S: response", "NXDOMAIN [qr rd]"} {
		if !strings.Contains(all, want) {
			t.Errorf("transcript lacks %q:\n%s", want, all)
		}
	}
}
