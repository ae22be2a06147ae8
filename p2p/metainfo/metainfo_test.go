package metainfo

import (
	"bytes"
	"crypto/sha1"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// content is deterministic file data of n bytes.
func content(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// tree writes a directory of three files and returns its path.
func tree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "album")
	for _, f := range []struct {
		path string
		n    int
	}{{"b.txt", 1000}, {"a/z.bin", 300000}, {"a/y.bin", 70000}} {
		p := filepath.Join(root, f.path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, content(f.n, byte(f.n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(p, got, 0o644)
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot  %q\nwant %q", name, got, want)
	}
}

var opts = CreateOptions{
	Trackers:     [][]string{{"http://127.0.0.1:6969/announce"}, {"udp://127.0.0.1:6969", "http://127.0.0.2:6969/announce"}},
	CreatedBy:    "applayer",
	CreationDate: time.Unix(1700000000, 0),
}

func TestCreateSingle(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file.bin")
	data := content(600000, 1)
	os.WriteFile(p, data, 0o644)
	m, err := Create(p, CreateOptions{Trackers: [][]string{{"http://127.0.0.1:6969/announce"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.PieceLength != 256<<10 || m.Info.NumPieces() != 3 || m.Info.Length != 600000 || m.Info.Name != "file.bin" {
		t.Fatalf("info = %+v", m.Info)
	}
	if h := sha1.Sum(data[512<<10:]); m.Info.PieceHash(2) != h || m.Info.PieceSize(2) != 600000-512<<10 {
		t.Error("last piece's hash or size is wrong")
	}
	if m.AnnounceList != nil || m.Announce != "http://127.0.0.1:6969/announce" {
		t.Errorf("announce %q, list %q", m.Announce, m.AnnounceList)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "single.torrent", b)
}

func TestCreateMulti(t *testing.T) {
	m, err := Create(tree(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Info.FileList() {
		paths = append(paths, f.Path)
	}
	if got := strings.Join(paths, " "); got != "album/a/y.bin album/a/z.bin album/b.txt" {
		t.Errorf("files %s", got)
	}
	if m.Info.TotalLength() != 371000 || m.Info.NumPieces() != 2 {
		t.Errorf("total %d in %d pieces", m.Info.TotalLength(), m.Info.NumPieces())
	}
	if len(m.AnnounceList) != 2 || m.Announce != opts.Trackers[0][0] {
		t.Errorf("announce %q, list %q", m.Announce, m.AnnounceList)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "multi.torrent", b)
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.InfoHash != m.InfoHash || len(back.Trackers()) != 2 {
		t.Errorf("parsed back: %s, %q", back.InfoHash, back.Trackers())
	}
}

// TestParseForeign reads a torrent made by mktorrent (kept in testdata)
// and checks its info-hash, which aria2c -S printed for it.
func TestParseForeign(t *testing.T) {
	m, err := Load("testdata/mktorrent.torrent")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("testdata/mktorrent.infohash")
	if m.InfoHash.String() != strings.TrimSpace(string(want)) {
		t.Errorf("info-hash %s, want %s", m.InfoHash, want)
	}
}

// TestMktorrent makes the same torrents with mktorrent and with Create and
// compares the info-hashes.
func TestMktorrent(t *testing.T) {
	mk := peertest.Require(t, "mktorrent", "mktorrent")
	single := filepath.Join(t.TempDir(), "file.bin")
	os.WriteFile(single, content(1<<20+123, 7), 0o644)
	for _, root := range []string{single, tree(t)} {
		out := filepath.Join(t.TempDir(), "x.torrent")
		cmd := exec.Command(mk, "-l", "18", "-a", "http://127.0.0.1:6969/announce", "-o", out, root)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mktorrent: %v\n%s", err, b)
		}
		theirs, err := Load(out)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := Create(root, CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ours.InfoHash != theirs.InfoHash {
			t.Errorf("%s: info-hash %s, mktorrent's %s\nours   %q\ntheirs %q", filepath.Base(root), ours.InfoHash, theirs.InfoHash, ours.InfoBytes[:80], theirs.InfoBytes[:80])
		}
	}
}

func TestValidate(t *testing.T) {
	good := Info{Name: "a", PieceLength: 16384, Length: 1, Pieces: make([]byte, 20)}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Info){
		func(i *Info) { i.PieceLength = 0 },
		func(i *Info) { i.Name = ".." },
		func(i *Info) { i.Name = "a/b" },
		func(i *Info) { i.Pieces = make([]byte, 19) },
		func(i *Info) { i.Pieces = make([]byte, 40) },
		func(i *Info) { i.Files = []File{{1, []string{"x"}}} },
		func(i *Info) { i.Length = 0; i.Files = []File{{1, []string{"..", "x"}}} },
		func(i *Info) { i.Length = 0; i.Files = []File{{1, []string{}}} },
		func(i *Info) { i.Length = 0; i.Files = []File{{1, []string{"x"}}, {0, []string{"x"}}} },
		func(i *Info) { i.Length = -1 },
	}
	for n, f := range bad {
		i := good
		f(&i)
		if err := i.Validate(); err == nil {
			t.Errorf("case %d: %+v accepted", n, i)
		}
	}
}

func TestMagnet(t *testing.T) {
	m, err := Create(tree(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Magnet().String()
	if !strings.HasPrefix(s, "magnet:?xt=urn:btih:"+m.InfoHash.String()+"&dn=album&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp") {
		t.Errorf("magnet %s", s)
	}
	mg, err := ParseMagnet(s)
	if err != nil {
		t.Fatal(err)
	}
	if mg.InfoHash != m.InfoHash || mg.Name != "album" || len(mg.Trackers) != 3 {
		t.Errorf("parsed %+v", mg)
	}
	b32, err := ParseMagnet("magnet:?xt=urn:btih:YO5OHUZAMGLGFCIB47T2DEP4U7MWNCJM&dn=x")
	if err != nil || b32.InfoHash.String() != "c3bae3d3206196628901e7e7a191fca7d966892c" {
		t.Errorf("base32: %v %s", err, b32.InfoHash)
	}
	for _, bad := range []string{"http://x", "magnet:?dn=x", "magnet:?xt=urn:btih:abc", "magnet:?xt=urn:btih:" + strings.Repeat("g", 40)} {
		if _, err := ParseMagnet(bad); err == nil {
			t.Errorf("ParseMagnet(%q) succeeded", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"single.torrent", "multi.torrent", "mktorrent.torrent"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("d4:infod4:name1:a12:piece lengthi16384e6:pieces0:ee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		if sha1.Sum(m.InfoBytes) != m.InfoHash {
			t.Fatal("info-hash is not the SHA-1 of the info bytes")
		}
		for _, fe := range m.Info.FileList() {
			if strings.Contains("/"+fe.Path+"/", "/../") {
				t.Fatalf("unsafe path %q", fe.Path)
			}
		}
	})
}

func FuzzParseMagnet(f *testing.F) {
	f.Add("magnet:?xt=urn:btih:c3bae3d3206196628901e7e7a191fca7d966892c&dn=x&tr=http%3A%2F%2Fa")
	f.Add("magnet:?xt=urn:btih:YO5OHUZAMGLGFCIB47T2DEP4U7MWNCJM")
	f.Fuzz(func(t *testing.T, s string) {
		mg, err := ParseMagnet(s)
		if err != nil {
			return
		}
		back, err := ParseMagnet(mg.String())
		if err != nil || back.InfoHash != mg.InfoHash || back.Name != mg.Name {
			t.Fatalf("%q: round trip gave %+v, %v", s, back, err)
		}
	})
}
