// Package sample writes the lab's sample web site: an HTML base file that
// references a dozen objects of various sizes (a stylesheet, a script,
// images from a few hundred bytes to half a megabyte, an icon), the page
// the textbook's response-time model is about, plus a large file for
// resumed downloads. The content is generated from a fixed seed, so every
// run serves the same bytes.
package sample

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// An image the page shows: its file name and pixel size (random pixels do
// not compress, so the file's size follows the pixel count).
type picture struct {
	name string
	w, h int
	alt  string
}

var pictures = []picture{
	{"img/dot.png", 8, 8, "a dot"},
	{"img/thumb-1.png", 40, 30, "thumbnail 1"},
	{"img/thumb-2.png", 40, 30, "thumbnail 2"},
	{"img/thumb-3.png", 40, 30, "thumbnail 3"},
	{"img/thumb-4.png", 40, 30, "thumbnail 4"},
	{"img/small.png", 60, 50, "a small picture"},
	{"img/medium.png", 160, 120, "a medium picture"},
	{"img/large.png", 400, 300, "a large picture"},
	{"img/banner.png", 600, 80, "a banner"},
}

// BigFile is the name of the large download that the page links to (not an
// object of the page): 10 MiB, for resumed downloads and the progress bar.
const BigFile = "files/big.bin"

// HOLPage is the directory of the head-of-line page: one large picture
// (about 1.5 MB) first, then many small tiles. Over one HTTP/1.1
// connection the tiles wait behind the picture; over HTTP/2 their frames
// are interleaved with the picture's (section 2.2.6).
const HOLPage = "hol/"

const holTiles = 24

// Objects is how many objects index.html references.
var Objects = len(pictures) + 4 // + style.css, script.js, logo.svg, favicon.png

// Write creates the site under dir.
func Write(dir string) error {
	rng := rand.New(rand.NewPCG(2, 2))
	files := map[string][]byte{}
	for _, p := range pictures {
		files[p.name] = noisePNG(rng, p.w, p.h)
	}
	files["favicon.png"] = noisePNG(rng, 16, 16)
	files["logo.svg"] = []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40"><rect width="120" height="40" rx="6" fill="#246"/><text x="60" y="26" font-family="sans-serif" font-size="16" fill="#fff" text-anchor="middle">applayer</text></svg>` + "\n")
	files["style.css"] = []byte(stylesheet())
	files["script.js"] = []byte(script())
	files["index.html"] = []byte(indexHTML())
	big := make([]byte, 10<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files[BigFile] = big
	files[HOLPage+"big.png"] = noisePNG(rng, 720, 720)
	for i := 1; i <= holTiles; i++ {
		files[fmt.Sprintf("%stile-%02d.png", HOLPage, i)] = noisePNG(rng, 24, 24)
	}
	files[HOLPage+"index.html"] = []byte(holHTML())
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func noisePNG(rng *rand.Rand, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := rng.Uint32()
			img.Set(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func stylesheet() string {
	var b strings.Builder
	b.WriteString("body { font-family: sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.4; }\n")
	b.WriteString("figure { display: inline-block; margin: .5em; }\nimg { border: 1px solid #ccc; }\n#status { background: #eef; padding: .5em; }\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, ".c%d { color: #%06x; }\n", i, i*0x040404)
	}
	return b.String()
}

func script() string {
	var b strings.Builder
	b.WriteString(`// Reports, once the page has loaded, which objects arrived: the
// end-to-end test reads #status.
window.applayerScript = true;
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var css = Array.prototype.some.call(document.styleSheets, function (s) { return s.href && s.href.indexOf("style.css") >= 0; });
  var status = document.getElementById("status");
  status.textContent = "images " + ok + "/" + imgs.length + "; stylesheet " + (css ? "yes" : "no") + "; script yes";
  status.setAttribute("data-images-ok", String(ok));
  status.setAttribute("data-images", String(imgs.length));
  status.setAttribute("data-css", String(css));
});
`)
	// Padding so that the script is an object of some size.
	for i := 0; i < 80; i++ {
		fmt.Fprintf(&b, "// %03d: the textbook calls each file a page references an object.\n", i)
	}
	return b.String()
}

func indexHTML() string {
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>www.someschool.edu: a page and its objects</title>
<link rel="stylesheet" href="style.css">
<link rel="icon" href="favicon.png">
<script src="script.js"></script>
</head>
<body>
<h1><img src="logo.svg" alt="applayer" width="120" height="40"> A page and its objects</h1>
<p>This base HTML file references the objects below. Fetch the page with
<code>applayer web get URL --objects</code> (add <code>--non-persistent</code>
or <code>--parallel 5</code>) and compare the time with the textbook's model.</p>
<p id="status">loading…</p>
`)
	for _, p := range pictures {
		fmt.Fprintf(&b, "<figure><img src=\"%s\" width=\"%d\" height=\"%d\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n", p.name, p.w, p.h, p.alt, p.name)
	}
	b.WriteString(`<p>Not an object of this page: <a href="files/big.bin">a 10 MiB file</a> for resumed downloads
(<code>curl -C -</code>) and the progress bar of <code>applayer web get -o</code>.</p>
<p>The <a href="/_demo/">cookie demo</a> counts your visits in a database.</p>
</body>
</html>
`)
	return b.String()
}

func holHTML() string {
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>One large object and many small ones</title>
</head>
<body>
<h1>One large object and many small ones</h1>
<p>The large picture comes first. Over one HTTP/1.1 connection each tile
waits until the picture's last byte (head-of-line blocking); over HTTP/2
the tiles' frames are interleaved with the picture's, and they arrive at
once. Compare <code>applayer web get URL --objects --rate 20Mbit</code>
with the same and <code>--http2</code>, or see both timelines at
<a href="/_hol/">/_hol/</a>.</p>
<p><img src="big.png" width="360" height="360" alt="the large object"></p>
<p>
`)
	for i := 1; i <= holTiles; i++ {
		fmt.Fprintf(&b, "<img src=\"tile-%02d.png\" width=\"24\" height=\"24\" alt=\"tile %d\">\n", i, i)
	}
	b.WriteString("</p>\n</body>\n</html>\n")
	return b.String()
}
