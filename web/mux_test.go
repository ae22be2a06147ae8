package web

import (
	"testing"

	"github.com/applayer/applayer/web/internal/webtest"
)

// TestMuxRoutes checks the longest-prefix choice, and that the requests
// without a path (OPTIONS *, CONNECT host:port) reach the "/" handler
// instead of a 404, as they do when a FileServer is served alone.
func TestMuxRoutes(t *testing.T) {
	fsrv, err := NewFileServer(webtest.MakeSite(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := &Mux{}
	mux.Handle("/", fsrv)
	mux.Handle("/app/", HandlerFunc(func(w ResponseWriter, r *Request) {
		w.WriteHeader(StatusNoContent)
	}))
	addr := startServer(t, &Server{Handler: mux})
	tests := []struct {
		name, raw, status string
	}{
		{"file", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"longest prefix", "GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n", "204"},
		{"prefix without its slash", "GET /app HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "204"},
		{"CONNECT", "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n", "405"},
	}
	for _, tc := range tests {
		got := rawExchange(t, addr, tc.raw)
		if s := statusOf(got); s != tc.status {
			t.Errorf("%s: status = %s, want %s\n%.200s", tc.name, s, tc.status, got)
		}
	}
}
