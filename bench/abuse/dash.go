//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The DASH server's attacks (`applayer dash serve`, on applayer's HTTP/1.1
// server, shaped by a throughput trace so that each response trickles):
// connection exhaustion with idle keep-alive connections (one request
// each, as for the web server) and slowloris, and
// clients that request a segment and never read it while the link is
// shaped. A fresh client's try fetches the manifest.

func init() { register(dashAttacks) }

func dashAttacks(r *runner) []attack {
	start := func() (*server, error) { return r.env.applayerDash() }
	return []attack{
		{"dash-idle", "applayer", func() []row {
			return r.exhaustion("dash-idle", "applayer", start, httpIdle, probeDash, time.Second, false)
		}},
		{"dash-slowloris", "applayer", func() []row {
			return r.exhaustion("dash-slowloris", "applayer", start, slowloris, probeDash, time.Second, false)
		}},
		{"dash-never-reads", "applayer", func() []row {
			return r.exhaustion("dash-never-reads", "applayer", start, dashNeverReads, probeDash, time.Second, false)
		}},
	}
}

// applayerDash serves a presentation of a manifest and one 8 MiB segment,
// shaped to 8 Mbit/s per client.
func (e *env) applayerDash() (*server, error) {
	dir, err := e.subdir("dash")
	if err != nil {
		return nil, err
	}
	pres := filepath.Join(dir, "pres")
	if err := os.MkdirAll(pres, 0o755); err != nil {
		return nil, err
	}
	mpd, err := os.ReadFile("video/dash/testdata/static.mpd")
	if err != nil {
		mpd = []byte(`<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"></MPD>`)
	}
	if err := os.WriteFile(filepath.Join(pres, "manifest.mpd"), mpd, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pres, "seg.m4s"), make([]byte, 8<<20), 0o644); err != nil {
		return nil, err
	}
	trace := filepath.Join(dir, "trace.csv")
	if err := os.WriteFile(trace, []byte("0,8000\n"), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return e.start("applayer", dir, addr, e.bin, "dash", "serve", pres, "--listen", addr, "--throughput", trace, "--log-level", "error")
}

var (
	// dashNeverReads asks for the 8 MiB segment and never reads it.
	dashNeverReads = holder{what: "GET of an 8 MiB segment, never read", setup: func(c net.Conn) error {
		_, err := io.WriteString(c, "GET /seg.m4s HTTP/1.1\r\nHost: abuse.test\r\n\r\n")
		return err
	}, noRead: true}
)

func probeDash(ctx context.Context, src netip.Addr, addr string) error {
	c, err := dialFrom(ctx, src, addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := io.WriteString(c, "GET /manifest.mpd HTTP/1.1\r\nHost: abuse.test\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
		return fmt.Errorf("answer %.40q", b)
	}
	return nil
}
