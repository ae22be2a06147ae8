package web

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/web/internal/webtest"
)

// TestCurl drives the server with curl: status codes, a resumed download,
// conditional GET, HTTP/1.0, keep-alive reuse, PUT and DELETE.
func TestCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	addr, dir := startFileServer(t, func(f *FileServer) { f.AllowWrite = true })
	base := "http://" + addr
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "10"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"get", []string{"-w", "%{http_code}", "-o", "/dev/null", base + "/a.txt"}, "200"},
		{"head", []string{"-I", "-w", "%{http_code}", "-o", "/dev/null", base + "/a.txt"}, "200"},
		{"404", []string{"-w", "%{http_code}", "-o", "/dev/null", base + "/missing"}, "404"},
		{"dir redirect", []string{"-w", "%{http_code} %{redirect_url}", "-o", "/dev/null", base + "/dir"}, "301 " + base + "/dir/"},
		{"follow", []string{"-L", base + "/dir"}, webtest.SiteFiles["dir/index.html"]},
		{"range", []string{"-r", "3-5", base + "/a.txt"}, "def"},
		{"http1.0", []string{"--http1.0", "-w", "%{http_version} %{http_code}", "-o", "/dev/null", base + "/a.txt"}, "1 200"},
		{"ims", []string{"-z", "Sat, 01 Jan 2000 00:00:00 GMT", "-w", "%{http_code}", "-o", "/dev/null", base + "/a.txt"}, "200"},
		{"ims future", []string{"-z", "Fri, 01 Jan 2100 00:00:00 GMT", "-w", "%{http_code}", "-o", "/dev/null", base + "/a.txt"}, "304"},
		{"path-as-is", []string{"--path-as-is", "-w", "%{http_code}", "-o", "/dev/null", base + "/../../etc/passwd"}, "400"},
		{"path-as-is inside", []string{"--path-as-is", "-w", "%{http_code}", "-o", "/dev/null", base + "/dir/.."}, "200"},
		{"path-as-is file", []string{"--path-as-is", base + "/dir/../a.txt"}, webtest.SiteFiles["a.txt"]},
		{"path-as-is dir redirect", []string{"--path-as-is", "-w", "%{http_code} %{redirect_url}", "-o", "/dev/null", base + "/a.txt/../dir"}, "301 " + base + "/dir/"},
		{"reuse", []string{"-w", "%{num_connects}", "-o", "/dev/null", "-o", "/dev/null", base + "/a.txt", base + "/index.html"}, "10"},
		{"put", []string{"-T", "-", "-w", "%{http_code}", base + "/up/c.txt"}, "201"},
		{"delete", []string{"-X", "DELETE", "-w", "%{http_code}", base + "/a.txt"}, "204"},
	}
	for _, tc := range tests {
		args := tc.args
		var got string
		if tc.name == "put" {
			cmd := exec.Command(curl, append([]string{"-sS", "--max-time", "10", "-H", "Expect: 100-continue"}, args...)...)
			cmd.Stdin = strings.NewReader("from curl")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("curl put: %v %s", err, out)
			}
			got = string(out)
			b, _ := os.ReadFile(filepath.Join(dir, "up", "c.txt"))
			if string(b) != "from curl" {
				t.Errorf("put: stored %q", b)
			}
		} else {
			got = run(args...)
		}
		if !strings.HasSuffix(got, tc.want) {
			t.Errorf("%s: curl printed %q, want it to end in %q", tc.name, got, tc.want)
		}
	}
	// A large download resumed from the middle, as `curl -C -` does.
	out := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(out, []byte(webtest.SiteFiles["big.bin"][:100000]), 0o644)
	run("-C", "-", "-o", out, base+"/big.bin")
	if b, _ := os.ReadFile(out); string(b) != webtest.SiteFiles["big.bin"] {
		t.Errorf("resumed download: %d bytes, differs from the original", len(b))
	}
}

// TestPythonHTTPClient drives the server with python3's http.client over one
// persistent connection, and checks 1.0 and chunked uploads.
func TestPythonHTTPClient(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	addr, _ := startFileServer(t, func(f *FileServer) { f.AllowWrite = true })
	host, port, _ := strings.Cut(addr, ":")
	script := `
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
out = []
for path in ["/", "/a.txt", "/missing", "/dir"]:
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    out.append("%s %d %d" % (path, r.status, len(body)))
c.request("HEAD", "/a.txt")
r = c.getresponse(); r.read()
out.append("HEAD %d %s" % (r.status, r.getheader("Content-Length")))
c.request("PUT", "/py.txt", body=iter([b"chunk1-", b"chunk2"]), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
r = c.getresponse(); r.read()
out.append("PUT %d" % r.status)
c.request("GET", "/py.txt")
r = c.getresponse()
out.append("GOT %s" % r.read().decode())
sock = c.sock
c.close()
c10 = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
c10._http_vsn, c10._http_vsn_str = 10, "HTTP/1.0"
c10.request("GET", "/a.txt")
r = c10.getresponse()
out.append("1.0 %d %d %s" % (r.status, r.version, r.getheader("Connection")))
print("|".join(out))
`
	b, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, b)
	}
	want := "/ 200 32|/a.txt 200 26|/missing 404 36|/dir 301 29|HEAD 200 26|PUT 201|GOT chunk1-chunk2|1.0 200 11 close"
	if got := strings.TrimSpace(string(b)); got != want {
		t.Errorf("python3 http.client:\n got %s\nwant %s", got, want)
	}
}
