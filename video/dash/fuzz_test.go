package dash

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse holds the parser to its contract on any input: no panic, and
// whatever it accepts is valid, writes back, and parses again to the same
// document.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodMPD))
	if b, err := testPresentation().StaticMPD().Marshal(); err == nil {
		f.Add(b)
	}
	live := testPresentation().LiveMPD(time.Unix(1e9, 0), time.Unix(1e9+60, 0), 30*time.Second)
	if b, err := live.Marshal(); err == nil {
		f.Add(b)
	}
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.mpd"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE MPD [<!ENTITY a "aaaa">]><MPD>&a;</MPD>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxBytes: 64 << 10, MaxSegments: 10000}
		m, err := ParseBytes(data, lim)
		if err != nil {
			return
		}
		if err := m.Validate(lim); err != nil {
			t.Fatalf("accepted an invalid MPD: %v", err)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted MPD does not write back: %v", err)
		}
		m2, err := ParseBytes(b, Limits{MaxSegments: 10000})
		if err != nil {
			t.Fatalf("written MPD does not parse: %v\n%s", err, b)
		}
		b2, err := m2.Marshal()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("not stable: %v\n%s\n---\n%s", err, b, b2)
		}
		if m.Type != "dynamic" {
			if l, err := m.Ladder(); err == nil {
				for _, tr := range l {
					_ = tr.Media(tr.Segments - 1)
				}
			}
		}
	})
}
