package imap

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClientResponse feeds the client's response reader and parser, and the
// FETCH, ENVELOPE and BODYSTRUCTURE decoders behind it, arbitrary server
// output: no panic, no hang, and every response read stays within the
// limits.
func FuzzClientResponse(f *testing.F) {
	for _, s := range []string{
		"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n",
		"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 180 ENVELOPE (\"date\" \"hello\" ((\"Alice\" NIL \"alice\" \"crepes.fr\")) NIL NIL ((NIL NIL \"bob\" \"h.edu\")(NIL NIL \"d\" \"e.org\")) NIL NIL NIL \"<1@c>\"))\r\n",
		"* 2 FETCH (UID 2 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1 NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" \"r.bin\") NIL NIL \"base64\" 6 NIL (\"attachment\" (\"filename\" \"r.bin\")) NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL))\r\n",
		"* 3 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {17}\r\nSubject: recipe\r\n BODY[]<0> {4}\r\nFrom)\r\n",
		"* 4 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) 2))\r\n",
		"* LIST (\\HasNoChildren) \".\" \"INBOX.Sent\"\r\n",
		"* STATUS INBOX (MESSAGES 3 UNSEEN 1)\r\n",
		"* SEARCH 1 2 3\r\n",
		"+ idling\r\n",
		"A1 NO [AUTHENTICATIONFAILED] no\r\n",
		"* 1 FETCH (BODY[] {99999999999999}\r\n",
		"* 1 FETCH ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\r\n",
		"* 1 FETCH (BODY[1 {3}\r\nabc)\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		for i := 0; i < 100; i++ {
			raw, err := readRawResponse(br, 1<<16, 1<<17, nil, nil)
			if err != nil {
				return
			}
			if len(raw) > 1<<17+maxRespLine+2 {
				t.Fatalf("response of %d bytes over the limits", len(raw))
			}
			r, err := ParseResponse(raw)
			if err != nil {
				continue
			}
			if r.Kind == "FETCH" {
				if m, err := parseFetch(r); err == nil && m.BodyStructure != nil {
					m.BodyStructure.Walk(func(*BodyPart) {})
				}
			}
		}
	})
}

func TestMailboxNameUTF7(t *testing.T) {
	for _, tc := range []struct{ utf8, wire string }{
		{"INBOX", "INBOX"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501 section 5.1.3
		{"Entwürfe & Co", "Entw&APw-rfe &- Co"},
		{"&", "&-"},
		{"😀", "&2D3eAA-"},
	} {
		if got := EncodeMailboxName(tc.utf8); got != tc.wire {
			t.Errorf("Encode(%q) = %q, want %q", tc.utf8, got, tc.wire)
		}
		if got := DecodeMailboxName(tc.wire); got != tc.utf8 {
			t.Errorf("Decode(%q) = %q, want %q", tc.wire, got, tc.utf8)
		}
	}
	for _, bad := range []string{"&", "&Jjo", "&AGE-", "a&-b&&-", "&U,B-"} {
		if got := DecodeMailboxName(bad); got != bad && bad != "a&-b&&-" {
			t.Errorf("Decode(%q) = %q, want it unchanged", bad, got)
		}
	}
}

// FuzzMailboxName: decoding never panics, and every UTF-8 name survives
// encoding and decoding.
func FuzzMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "Entwürfe & Co", "&U,BTFw-", "&", "&-", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		DecodeMailboxName(s)
		if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
			return
		}
		if got := DecodeMailboxName(EncodeMailboxName(s)); got != s {
			t.Fatalf("round trip of %q gave %q (wire %q)", s, got, EncodeMailboxName(s))
		}
	})
}
