//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/mailchaos"
)

// pregreet: clients from an address the server has not seen talk at
// once, before the greeting's last line, as spam engines in a hurry do.
func (r *runner) pregreet(start func() (*server, error), reference bool) []row {
	srv, err := start()
	if err != nil {
		return failed("smtp-pregreet", serverName(reference), err)
	}
	defer srv.stop()
	rw := row{attack: "smtp-pregreet", server: srv.name, reference: reference, target: time.Second,
		sent: fmt.Sprintf("%d clients from 127.0.3.1 sending EHLO before the greeting, 50 at once", r.cfg.Talkers)}
	probeSMTP(context.Background(), fresh, srv.addr)
	rw.rssBefore = rssKiB(srv.pids())
	src := netip.MustParseAddr("127.0.3.1")
	var (
		mu                             sync.Mutex
		dropped, served, other, dialed int
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sem := make(chan struct{}, 50)
		var wg sync.WaitGroup
		for range r.cfg.Talkers {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				kind := talk(srv.addr, src)
				mu.Lock()
				dialed++
				switch kind {
				case "dropped":
					dropped++
				case "served":
					served++
				default:
					other++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
	}()
	pr := runProbes(probeSMTP, fresh, srv.addr, r.cfg.Tries, r.cfg.Hold)
	rw.probes = &pr
	<-done
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("dropped (521 or closed before 220) %d, served (220 and 250 to EHLO) %d, other %d", dropped, served, other)
	if !reference && dropped != r.cfg.Talkers {
		rw.problems = append(rw.problems, fmt.Sprintf("%d talkers not dropped", r.cfg.Talkers-dropped))
	}
	return []row{rw}
}

// serverName is the SMTP target's name: Postfix is the reference.
func serverName(reference bool) string {
	if reference {
		return "postfix"
	}
	return "applayer"
}

// talk is one pregreet talker: "dropped" when the server refuses it
// before a 220 greeting's last line, "served" when its EHLO got 250.
func talk(addr string, src netip.Addr) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialFrom(ctx, src, addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "EHLO talker.abuse.test\r\n"); err != nil {
		return "write"
	}
	br := bufio.NewReader(c)
	code, _, err := readReply(br)
	if err != nil || code != 220 {
		return "dropped"
	}
	code, _, err = readReply(br)
	if err == nil && code == 250 {
		return "served"
	}
	return "dropped"
}

var smuggleEnds = []struct{ name, end string }{
	{"control (no false end)", "\r\n"},
	{"<LF>.<LF>", "\n.\n"},
	{"<CR>.<CR>", "\r.\r"},
	{"<CR><LF>.<LF>", "\r\n.\n"},
	{"<LF>.<CR><LF>", "\n.\r\n"},
	{"<CR><LF>.<CR>", "\r\n.\r"},
	{"<CR>.<CR><LF>", "\r.\r\n"},
	{"<LF>.<CR>", "\n.\r"},
	{"<CR><LF>.<NUL><CR><LF>", "\r\n.\x00\r\n"},
	{"BDAT chunk with <CR>.<CR>", ""},
}

// smuggling sends, for each false end of data, a message whose body holds
// that end followed by a second transaction, then the real end. A server
// that takes the false end runs the second transaction: its DATA gets a
// second 354.
func (r *runner) smuggling(start func() (*server, error), rcpt string, reference bool) []row {
	srv, err := start()
	if err != nil {
		return failed("smtp-smuggling", serverName(reference), err)
	}
	defer srv.stop()
	rw := row{attack: "smtp-smuggling", server: srv.name, reference: reference,
		sent: fmt.Sprintf("%d messages, each with a false end of data and a second transaction after it, and a plain control message", len(smuggleEnds)-1)}
	rw.rssBefore = rssKiB(srv.pids())
	src := netip.MustParseAddr("127.0.0.5")
	var results []string
	smuggled, attempts := 0, len(smuggleEnds)-1
	for i, v := range smuggleEnds {
		res, ran := smuggle(srv.addr, src, rcpt, v.end)
		if i == 0 {
			// The control: a plain message, which must be taken.
			if !strings.HasPrefix(res, "250") {
				rw.problems = append(rw.problems, "the control message was not accepted: "+res)
			}
		} else if ran {
			smuggled++
			res += " SMUGGLED"
		}
		results = append(results, v.name+": "+res)
	}
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = strings.Join(results, ", ")
	if smuggled > 0 {
		rw.problems = append(rw.problems, fmt.Sprintf("%d of %d false ends taken (second transaction run)", smuggled, attempts))
	}
	if srv.data != "" {
		stored, bare, second := inspectMaildir(filepath.Join(srv.data, "mail", "crepes.fr", "alice"))
		rw.note += fmt.Sprintf("; Maildir: %d stored, %d with a bare CR or LF, %d smuggled messages", stored, bare, second)
		if stored != 1 || bare > 0 || second > 0 {
			rw.problems = append(rw.problems, fmt.Sprintf("Maildir holds %d messages (want the control alone), %d with a bare CR or LF, %d smuggled", stored, bare, second))
		}
	}
	return []row{rw}
}

// smuggle runs one attempt and returns the replies after the first DATA
// (or BDAT) and whether a second transaction ran.
func smuggle(addr string, src netip.Addr, rcpt, end string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dialFrom(ctx, src, addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error(), false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	if code, text, err := readReply(br); err != nil || code != 220 {
		return fmt.Sprintf("greeting %q %v", strings.TrimSpace(text), err), false
	}
	for _, cmd := range []string{"EHLO smuggler.abuse.test", "MAIL FROM:<mallory@example.net>", "RCPT TO:<" + rcpt + ">"} {
		if code, text, err := smtpCmd(c, br, cmd); err != nil || code != 250 {
			return fmt.Sprintf("%s: %q %v", cmd, strings.TrimSpace(text), err), false
		}
	}
	second := "MAIL FROM:<admin@crepes.fr>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\nFrom: <admin@crepes.fr>\r\nSubject: SMUGGLED\r\n\r\nsmuggled\r\n"
	head := "From: <mallory@example.net>\r\nTo: <" + rcpt + ">\r\nSubject: smuggling test\r\n\r\nbefore"
	if end == "" {
		chunk := head + "\r.\r" + second
		fmt.Fprintf(c, "BDAT %d LAST\r\n%s", len(chunk), chunk)
	} else {
		if code, text, err := smtpCmd(c, br, "DATA"); err != nil || code != 354 {
			return fmt.Sprintf("DATA: %q %v", strings.TrimSpace(text), err), false
		}
		io.WriteString(c, head+end+second+".\r\n")
	}
	io.WriteString(c, "QUIT\r\n")
	var codes []string
	ran := false
	for {
		code, _, err := readReply(br)
		if err != nil {
			break
		}
		if code == 354 {
			ran = true
		}
		codes = append(codes, fmt.Sprint(code))
		if code == 221 {
			break
		}
	}
	return strings.Join(codes, " "), ran
}

// inspectMaildir counts the messages in a Maildir, those holding a bare CR
// or a bare LF, and those whose header says Subject: SMUGGLED.
func inspectMaildir(dir string) (stored, bare, smuggled int) {
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				continue
			}
			stored++
			crlf := bytes.Count(b, []byte("\r\n"))
			if bytes.Count(b, []byte("\r")) != crlf || bytes.Count(b, []byte("\n")) != crlf {
				bare++
			}
			hdr, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
			if bytes.Contains(hdr, []byte("Subject: SMUGGLED")) {
				smuggled++
			}
		}
	}
	return
}

// authGuess: parallel sessions from 127.0.0.1, each trying one wrong
// password for alice (STARTTLS, AUTH PLAIN) on the submission port; then
// alice, from 127.0.0.2, logs in with the right one.
func (r *runner) authGuess() []row {
	srv, err := r.env.applayerMail()
	if err != nil {
		return failed("smtp-auth-guess", "applayer", err)
	}
	defer srv.stop()
	n := r.cfg.Guesses
	rw := row{attack: "smtp-auth-guess", server: srv.name,
		sent: fmt.Sprintf("%d sessions at once from 127.0.0.1, one wrong password each (STARTTLS, AUTH PLAIN)", n)}
	rw.rssBefore = rssKiB(srv.pids())
	t0 := time.Now()
	type answer struct {
		code int
		at   time.Duration
	}
	answers := make(chan answer, n)
	for i := range n {
		go func() {
			code, _ := login(srv.sub, attacker, "alice@crepes.fr", fmt.Sprintf("guess%d", i))
			answers <- answer{code, time.Since(t0)}
		}()
	}
	var checked5, checked, refused, other int
	var last time.Duration
	for range n {
		a := <-answers
		last = max(last, a.at)
		switch {
		case a.code == 535:
			checked++
			if a.at <= 5*time.Second {
				checked5++
			}
		case a.code == 454:
			refused++
		default:
			other++
		}
	}
	l0 := time.Now()
	code, err := login(srv.sub, fresh, "alice@crepes.fr", "right-password")
	took := time.Since(l0)
	rw.rssAfter = rssKiB(srv.pids())
	real := fmt.Sprintf("%d in %s", code, ms(took))
	if err != nil {
		real = fmt.Sprintf("%v after %s", err, ms(took))
	}
	rw.note = fmt.Sprintf("checked (535) within 5 s %d, in all %d; refused unchecked (454) %d; other %d; last answer after %s; then alice's right password from 127.0.0.2: %s",
		checked5, checked, refused, other, ms(last), real)
	if checked5 > 10 {
		rw.problems = append(rw.problems, fmt.Sprintf("%d guesses checked within 5 s: the back-off did not hold", checked5))
	}
	return []row{rw}
}

// login runs STARTTLS and AUTH PLAIN from src and returns AUTH's code.
func login(addr string, src netip.Addr, user, pass string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := dialFrom(ctx, src, addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(45 * time.Second))
	br := bufio.NewReader(c)
	if code, text, err := readReply(br); err != nil || code != 220 {
		return code, fmt.Errorf("greeting %q %v", strings.TrimSpace(text), err)
	}
	for _, cmd := range []string{"EHLO guesser.abuse.test", "STARTTLS"} {
		if code, text, err := smtpCmd(c, br, cmd); err != nil || code/100 != 2 {
			return code, fmt.Errorf("%s: %q %v", cmd, strings.TrimSpace(text), err)
		}
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err := tc.HandshakeContext(ctx); err != nil {
		return 0, err
	}
	br = bufio.NewReader(tc)
	if code, text, err := smtpCmd(tc, br, "EHLO guesser.abuse.test"); err != nil || code != 250 {
		return code, fmt.Errorf("EHLO: %q %v", strings.TrimSpace(text), err)
	}
	code, _, err := smtpCmd(tc, br, "AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
	smtpCmd(tc, br, "QUIT")
	return code, err
}

// dnsAny: queries over UDP from 127.0.0.1, answer bytes over query bytes.
func (r *runner) dnsAny() []row {
	srv, err := r.env.applayerDNS()
	if err != nil {
		return failed("dns-any-udp", "applayer", err)
	}
	defer srv.stop()
	rw := row{attack: "dns-any-udp", server: srv.name, sent: "ANY abuse.test with EDNS0 (4096) and without, TXT abuse.test with EDNS0 (4096) for comparison, over UDP"}
	rw.rssBefore = rssKiB(srv.pids())
	type q struct {
		name  string
		qtype uint16
		edns  uint16
	}
	var parts []string
	sizes := map[string]int{}
	for _, x := range []struct {
		label string
		q     q
	}{
		{"ANY+EDNS", q{"abuse.test", 255, 4096}},
		{"ANY", q{"abuse.test", 255, 0}},
		{"TXT+EDNS", q{"abuse.test", 16, 4096}},
	} {
		in, out, an, tc, err := udpExchange(srv.addr, x.q.name, x.q.qtype, x.q.edns)
		if err != nil {
			rw.problems = append(rw.problems, x.label+": "+err.Error())
			continue
		}
		sizes[x.label] = out
		t := ""
		if tc {
			t = ", TC"
		}
		parts = append(parts, fmt.Sprintf("%s %d B -> %d B (%.1fx, %d answers%s)", x.label, in, out, float64(out)/float64(in), an, t))
	}
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = strings.Join(parts, "; ")
	if a, t := sizes["ANY+EDNS"], sizes["TXT+EDNS"]; a > 0 && t > 0 && a > t {
		rw.problems = append(rw.problems, "ANY answers more than the largest RRset: not minimal")
	}
	return []row{rw}
}

func udpExchange(addr, name string, qtype, edns uint16) (in, out, ancount int, tc bool, err error) {
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		return
	}
	defer c.Close()
	id, msg := dnsQuery(name, qtype, edns)
	buf := make([]byte, 65535)
	for try := 0; try < 3; try++ {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err = c.Write(msg); err != nil {
			return
		}
		var n int
		n, err = c.Read(buf)
		if err != nil {
			continue
		}
		ancount, tc, err = dnsCheck(buf[:n], id)
		return len(msg), n, ancount, tc, err
	}
	return
}

// chaos is the kill -9 run of internal/mailchaos.
func (r *runner) chaos() []row {
	dir, err := r.env.subdir("chaos")
	if err != nil {
		return failed("mail-kill9-chaos", "applayer", err)
	}
	rw := row{attack: "mail-kill9-chaos", server: "applayer",
		sent: fmt.Sprintf("%d messages from %d senders (half local, half relayed), %d kill -9s of mail serve", r.cfg.ChaosMsgs, r.cfg.ChaosSenders, r.cfg.ChaosKills)}
	res, err := mailchaos.Run(context.Background(), mailchaos.Config{
		Bin: r.cfg.Bin, Dir: dir, Senders: r.cfg.ChaosSenders, Messages: r.cfg.ChaosMsgs, Kills: r.cfg.ChaosKills,
	})
	rw.note = res.String()
	if err != nil {
		rw.problems = append(rw.problems, err.Error())
	}
	if len(res.Lost) > 0 {
		rw.problems = append(rw.problems, fmt.Sprintf("%d acknowledged messages lost: %s", len(res.Lost), strings.Join(res.Lost[:min(5, len(res.Lost))], " ")))
	}
	if res.Kills < r.cfg.ChaosKills {
		rw.problems = append(rw.problems, fmt.Sprintf("only %d kills", res.Kills))
	}
	return []row{rw}
}
