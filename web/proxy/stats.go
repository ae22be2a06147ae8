package proxy

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/applayer/applayer/web"
)

// statsPrefix is where the proxy answers for itself: /_proxy/stats (a
// page for people) and /_proxy/metrics (the Prometheus text format).
// Origin-form requests only, so in forward mode nothing else is there and
// in reverse mode the origin loses only this prefix.
const statsPrefix = "/_proxy/"

// Stats is a snapshot of the proxy's counters.
type Stats struct {
	Hits, Misses, Revalidated, Stale, Collapsed, Purges int64
	OriginRequests, OriginErrors                        int64
	BytesFromCache, BytesFromOrigin                     int64
	Tunnels                                             int64
	Entries                                             int
	StoredBytes                                         int64
}

// HitRatio is hits over hits and misses (0 before any request).
func (st Stats) HitRatio() float64 {
	if st.Hits+st.Misses == 0 {
		return 0
	}
	return float64(st.Hits) / float64(st.Hits+st.Misses)
}

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	s.init()
	c := &s.stats
	st := Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Revalidated: c.revalidated.Load(), Stale: c.stale.Load(),
		Collapsed: c.collapsed.Load(), Purges: c.purges.Load(),
		OriginRequests: c.originRequests.Load(), OriginErrors: c.originErrors.Load(),
		BytesFromCache: c.bytesCache.Load(), BytesFromOrigin: c.bytesOrigin.Load(), Tunnels: c.tunnels.Load(),
	}
	st.Entries, st.StoredBytes = s.store.Stats()
	return st
}

func (s *Server) serveStats(w web.ResponseWriter, r *web.Request) {
	st := s.Stats()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch strings.TrimPrefix(r.Path, statsPrefix) {
	case "metrics":
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.WriteHeader(web.StatusOK)
		if r.Method == "HEAD" {
			return
		}
		name := "applayer_proxy_"
		metric := func(n, typ, help string, v any) {
			fmt.Fprintf(w, "# HELP %s%s %s\n# TYPE %s%s %s\n%s%s %v\n", name, n, help, name, n, typ, name, n, v)
		}
		metric("hits_total", "counter", "Requests answered from the cache (fresh, or stale where allowed).", st.Hits)
		metric("misses_total", "counter", "Requests that needed a full response from the origin.", st.Misses)
		metric("revalidations_total", "counter", "Stored responses the origin confirmed with 304.", st.Revalidated)
		metric("stale_total", "counter", "Stale responses served (stale-while-revalidate, stale-if-error).", st.Stale)
		metric("collapsed_total", "counter", "Misses answered by another request's fetch.", st.Collapsed)
		metric("purges_total", "counter", "PURGE requests obeyed.", st.Purges)
		metric("origin_requests_total", "counter", "Requests sent to origins.", st.OriginRequests)
		metric("origin_errors_total", "counter", "Origin connections or exchanges that failed.", st.OriginErrors)
		metric("bytes_from_cache_total", "counter", "Body bytes served from the cache.", st.BytesFromCache)
		metric("bytes_from_origin_total", "counter", "Body bytes received from origins.", st.BytesFromOrigin)
		metric("tunnels_total", "counter", "CONNECT tunnels opened.", st.Tunnels)
		metric("entries", "gauge", "Responses stored.", st.Entries)
		metric("stored_bytes", "gauge", "Bytes the stored responses count for.", st.StoredBytes)
		metric("hit_ratio", "gauge", "Hits over hits and misses.", fmt.Sprintf("%.4f", st.HitRatio()))
	case "stats", "":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(web.StatusOK)
		if r.Method == "HEAD" {
			return
		}
		fmt.Fprintf(w, "%s caching proxy\n\n", cmp.Or(s.Name, DefaultName))
		rows := []struct {
			k string
			v any
		}{
			{"hits", st.Hits}, {"misses", st.Misses}, {"hit ratio", fmt.Sprintf("%.1f%%", 100*st.HitRatio())},
			{"revalidated (304)", st.Revalidated}, {"stale served", st.Stale}, {"collapsed misses", st.Collapsed},
			{"purges", st.Purges}, {"origin requests", st.OriginRequests}, {"origin errors", st.OriginErrors},
			{"bytes from cache", st.BytesFromCache}, {"bytes from origin", st.BytesFromOrigin},
			{"tunnels", st.Tunnels}, {"entries stored", st.Entries}, {"bytes stored", st.StoredBytes},
		}
		for _, row := range rows {
			fmt.Fprintf(w, "%-20s %v\n", row.k, row.v)
		}
	default:
		web.NotFound(w, r)
	}
}
