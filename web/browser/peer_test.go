package browser

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web/internal/webtest"
)

// TestFetcherAgainstPythonServer points our client at python3's
// http.server (an HTTP/1.0 server by default, then HTTP/1.1).
func TestFetcherAgainstPythonServer(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	dir := webtest.MakeSite(t)
	os.WriteFile(filepath.Join(dir, "page.html"), []byte(`<html><link rel=stylesheet href=style.css><img src=a.txt><img src=dir/index.html></html>`), 0o644)
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, py, "-m", "http.server", "--bind", "127.0.0.1", "--protocol", proto, "--directory", dir, port)
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		stop := func() { cancel(); cmd.Wait() }
		testutil.WaitListening(t, "127.0.0.1:"+port)
		f := &Fetcher{}
		rep, err := f.Page(ctx, "http://127.0.0.1:"+port+"/page.html", nil)
		stop()
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if len(rep.Objects) != 4 {
			t.Fatalf("%s: %d objects", proto, len(rep.Objects))
		}
		for _, o := range rep.Objects[1:] {
			want := int64(len(webtest.SiteFiles[strings.TrimPrefix(o.URL.Path, "/")]))
			if o.Status != 200 || o.Bytes != want || o.Err != nil {
				t.Errorf("%s %s: %d, %d bytes (want %d), %v", proto, o.URL.Path, o.Status, o.Bytes, want, o.Err)
			}
		}
		// An HTTP/1.0 server closes after each response: one connection
		// per object even though we asked for persistence.
		wantConns := 1
		if proto == "HTTP/1.0" {
			wantConns = 4
		}
		if rep.Conns != wantConns {
			t.Errorf("%s: %d connections, want %d", proto, rep.Conns, wantConns)
		}
	}
}
