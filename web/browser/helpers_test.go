package browser

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/applayer/applayer/web/internal/webtest"
)

// siteServer serves webtest's site with net/http's file server (which
// answers conditional GETs with 304) and returns its host:port.
func siteServer(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.FileServer(http.Dir(webtest.MakeSite(t))))
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}
