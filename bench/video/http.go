package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/applayer/applayer/video/abr"
	"github.com/applayer/applayer/video/dash"
	"github.com/applayer/applayer/video/trace"
	"github.com/applayer/applayer/web"
)

// httpBench plays the package in dir over HTTP, in real time, through
// applayer's shaping server, once per client per trace: our player with
// each rule, and dash.js in headless Chromium with each of its
// strategies. Every session is scored from the server's record of what it
// sent (dash.ScoreSent), so all clients are scored alike.
func httpBench(dir string, traces []*trace.Trace, clients []string, dashjs, chromium string, rtt time.Duration) error {
	b, err := os.ReadFile(filepath.Join(dir, dash.ManifestName))
	if err != nil {
		return err
	}
	m, err := dash.ParseBytes(b, dash.Limits{})
	if err != nil {
		return err
	}
	fmt.Printf("over HTTP, real time: %s, RTT %v, one run per client and trace (offset 0), scored from the server's record\n\n", dir, rtt)
	fmt.Println("| trace | client | QoE_lin | rebuffer s | avg kbit/s | switches | startup s |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, tr := range traces {
		for _, client := range clients {
			res, err := httpRun(m, dir, tr, client, dashjs, chromium, rtt)
			if err != nil {
				fmt.Printf("| %s | %s | failed: %v |\n", tr.Name, client, err)
				continue
			}
			fmt.Printf("| %s | %s | %.2f | %.2f | %.0f | %d | %.2f |\n", tr.Name, client, res.QoE, res.Rebuffer, res.AvgKbps, res.Switches, res.Startup)
		}
	}
	return nil
}

func httpRun(m *dash.MPD, dir string, tr *trace.Trace, client, dashjs, chromium string, rtt time.Duration) (*abr.Result, error) {
	s := &dash.Server{Dir: dir, Throughput: tr, RTT: rtt, DashJS: dashjs, Logger: slog.New(slog.DiscardHandler)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go s.Serve(l)
	defer s.Close()
	base := "http://" + l.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if strategy, ok := strings.CutPrefix(client, "dash.js "); ok {
		_, next := s.Reports()
		cmd := exec.CommandContext(ctx, chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
			"--autoplay-policy=no-user-gesture-required", "--no-first-run", "--user-data-dir="+filepath.Join(os.TempDir(), "applayer-bench-chromium"),
			base+dash.PlayerPath+"?abr="+strategy)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		select {
		case <-next:
		case <-ctx.Done():
			return nil, fmt.Errorf("dash.js never reported")
		}
		reports, _ := s.Reports()
		if reports[0].Event != "ended" || reports[0].Errors != "" {
			return nil, fmt.Errorf("dash.js: %s: %s", reports[0].Event, reports[0].Errors)
		}
	} else {
		rule, err := abr.ByName(client)
		if err != nil {
			return nil, err
		}
		if _, err := (&dash.Player{Rule: rule}).Play(ctx, base+"/"+dash.ManifestName); err != nil {
			return nil, err
		}
	}
	// What the link carried, as the server recorded it.
	c, err := web.Dial(ctx, l.Addr().String(), web.Options{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	resp, err := c.Do(ctx, &web.OutRequest{Target: dash.SentPath, Host: l.Addr().String()})
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var sent []dash.Sent
	if err := json.Unmarshal(body, &sent); err != nil {
		return nil, err
	}
	return dash.ScoreSent(m, sent, client)
}
