package browser

import (
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// ObjectLinks returns the URLs of the objects an HTML page references and a
// browser would fetch to show it: img, script, source, video and audio
// sources, embed, input type=image, video posters, and link elements for
// stylesheets, icons and preloads. Relative references are resolved
// against base; duplicates and fragments are dropped; order is the page's.
func ObjectLinks(r io.Reader, base *url.URL) []*url.URL {
	z := html.NewTokenizer(io.LimitReader(r, 16<<20))
	seen := map[string]bool{}
	var out []*url.URL
	add := func(ref string) {
		ref = strings.TrimSpace(ref)
		if ref == "" || strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "javascript:") {
			return
		}
		u, err := base.Parse(ref)
		if err != nil {
			return
		}
		u.Fragment = ""
		if k := u.String(); !seen[k] {
			seen[k] = true
			out = append(out, u)
		}
	}
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		attrs := map[string]string{}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			attrs[string(k)] = string(v)
		}
		switch string(name) {
		case "img", "script", "source", "embed", "audio", "track":
			add(attrs["src"])
		case "video":
			add(attrs["src"])
			add(attrs["poster"])
		case "input":
			if strings.EqualFold(attrs["type"], "image") {
				add(attrs["src"])
			}
		case "link":
			for rel := range strings.FieldsSeq(strings.ToLower(attrs["rel"])) {
				if rel == "stylesheet" || rel == "icon" || rel == "preload" || rel == "modulepreload" || rel == "apple-touch-icon" {
					add(attrs["href"])
					break
				}
			}
		}
	}
}
