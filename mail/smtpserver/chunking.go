package smtpserver

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/applayer/applayer/mail/smtp"
)

// chunking is a message arriving in BDAT chunks (RFC 3030).
type chunking struct {
	d      Delivery
	n      int64       // bytes received so far
	failed *smtp.Reply // the first refusal; later chunks are discarded
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
		// Out of order: the chunk is still read, so the dialogue stays
		// in step, then refused.
		ss.r.timeout = orDefault(ss.srv.DataTimeout, DefaultDataTimeout)
		if _, err := io.CopyN(io.Discard, ss.br, size); err != nil {
			ss.readFailed(err)
			ss.closed = true
			return nil
		}
		return ss.sequenceError("BDAT")
	}
	if ss.chunks == nil {
		ss.chunks = &chunking{}
		d, err := ss.srv.Backend.Open(&ss.info, &ss.env)
		if err != nil {
			ss.chunks.failed = replyOf(err, 451, smtp.CodeSystem)
		} else {
			ss.chunks.d = d
			io.WriteString(d, ss.received(d.ID()))
		}
	}
	ss.st = stateBdat
	ch := ss.chunks
	var w io.Writer = io.Discard
	if ch.failed == nil {
		if ch.n+size > ss.srv.maxBytes() {
			ch.failed = smtp.R(552, smtp.CodeTooBig, "Message exceeds fixed maximum message size")
		} else {
			w = ch.d
		}
	}
	ss.r.timeout = orDefault(ss.srv.DataTimeout, DefaultDataTimeout)
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
	if !last {
		if ch.failed != nil {
			return ch.failed
		}
		return smtp.R(250, smtp.CodeOK, strconv.FormatInt(size, 10)+" octets received")
	}
	// LAST: the transaction ends here, accepted or not.
	ss.chunks = nil
	ss.resetTransaction()
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
