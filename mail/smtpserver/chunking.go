package smtpserver

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/mail/smtp"
)

// chunking is a message arriving in BDAT chunks (RFC 3030).
type chunking struct {
	d      Delivery
	lines  *smtp.LineChecker // d, watched for bare CR, bare LF and NUL
	n      int64             // bytes received so far
	failed *smtp.Reply       // the first refusal; later chunks are discarded
}

func (ss *session) abortChunks() {
	if ss.chunks != nil {
		if ss.chunks.d != nil {
			ss.chunks.d.Abort()
		}
		ss.chunks = nil
	}
}

// bdat: RFC 3030 section 2. "BDAT size [LAST]" is followed by exactly
// size octets, taken as they are: no dot-stuffing, no end marker. Chunks
// accumulate until LAST, which commits the message like the end of DATA.
func (ss *session) bdat(arg string) *smtp.Reply {
	f := strings.Fields(arg)
	last := len(f) == 2 && strings.EqualFold(f[1], "LAST")
	var size int64
	var err error
	if len(f) >= 1 && len(f[0]) <= 18 {
		size, err = strconv.ParseInt(f[0], 10, 64)
	}
	if len(f) == 0 || len(f) > 2 || len(f) == 2 && !last || len(f[0]) > 18 || err != nil || size < 0 {
		// The chunk's length is unknown, so what follows cannot be told
		// from commands: end the session.
		ss.reply(smtp.R(501, smtp.CodeBadParam, "Syntax error in BDAT; closing connection"))
		ss.abortChunks()
		ss.closed = true
		return nil
	}
	if ss.st != stateRcpt && ss.st != stateBdat {
		if size > ss.srv.maxBytes() {
			// Reading an absurd chunk only to refuse it would let a
			// client keep the session busy for as long as it likes.
			ss.reply(smtp.R(503, smtp.CodeInvalidCmd, "Need MAIL and RCPT first; closing connection"))
			ss.closed, ss.linger = true, true
			return nil
		}
		// Out of order: the chunk is still read, so the dialogue stays
		// in step, then refused.
		ss.r.timeout = lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
		if _, err := io.CopyN(io.Discard, ss.br, size); err != nil {
			ss.readFailed(err)
			ss.closed = true
			return nil
		}
		return ss.sequenceError("BDAT")
	}
	var have int64
	if ss.chunks != nil {
		have = ss.chunks.n
	}
	if have+size > ss.srv.maxBytes() {
		// Over the limit: refused before a byte of it is read (the
		// chunk would have to be read to stay in step, and its size is
		// the client's word), and the session ends.
		ss.abortChunks()
		ss.resetTransaction()
		ss.reply(smtp.R(552, smtp.CodeTooBig, "Message exceeds fixed maximum message size; closing connection"))
		ss.closed, ss.linger = true, true
		return nil
	}
	if ss.chunks == nil {
		ss.chunks = &chunking{}
		d, err := ss.srv.Backend.Open(&ss.info, &ss.env)
		if err != nil {
			ss.chunks.failed = replyOf(err, 451, smtp.CodeSystem)
		} else {
			ss.chunks.d = d
			ss.chunks.lines = smtp.CheckLines(d)
			io.WriteString(d, ss.received(d.ID()))
		}
	}
	ss.st = stateBdat
	ch := ss.chunks
	var w io.Writer = io.Discard
	if ch.failed == nil {
		w = ch.lines
	}
	ss.r.timeout = lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
	n, err := io.CopyN(w, ss.br, size)
	ch.n += n
	ss.tr.Client("<" + strconv.FormatInt(n, 10) + " octets of BDAT data>")
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		ss.abortChunks()
		ss.readFailed(err)
		ss.closed = true
		return nil
	}
	if ch.failed == nil && ch.lines.Err() != nil && !errors.Is(ch.lines.Err(), smtp.ErrBareCR) {
		// A bare CR may still be followed by the next chunk's LF; the
		// rest is known now.
		ch.failed = lineReply(ch.lines.Err())
	}
	if !last {
		if ch.failed != nil {
			return ch.failed
		}
		return smtp.R(250, smtp.CodeOK, strconv.FormatInt(size, 10)+" octets received")
	}
	// LAST: the transaction ends here, accepted or not.
	ss.chunks = nil
	ss.resetTransaction()
	if ch.failed == nil && ch.lines.Err() != nil {
		ch.failed = lineReply(ch.lines.Err())
	}
	if ch.failed != nil {
		if ch.d != nil {
			ch.d.Abort()
		}
		return ch.failed
	}
	if err := ch.d.Commit(); err != nil {
		ss.srv.logger().Error("smtp: message not stored", "id", ch.d.ID(), "err", err)
		return replyOf(err, 451, smtp.CodeSystem)
	}
	return smtp.R(250, smtp.CodeOK, "Message accepted for delivery, queued as "+ch.d.ID())
}
