package imap

import (
	"bufio"
	"bytes"
	"testing"
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
