package upper

import (
	"encoding/binary"
	"slices"
	"unicode"
	"unicode/utf8"
)

// An Uppercaser uppercases a UTF-8 stream that arrives in pieces. Valid
// UTF-8 is mapped rune by rune with unicode.ToUpper (the mapping
// strings.ToUpper uses); every byte that is not part of valid UTF-8 is copied
// unchanged. A rune split across two calls to Append is held back until its
// remaining bytes arrive. The zero value is ready to use.
type Uppercaser struct {
	carry [utf8.UTFMax - 1]byte // an incomplete rune from the last call
	n     int
}

// Append appends the uppercase form of src to dst and returns the extended
// buffer. The bytes of an incomplete rune at the end of src are kept for the
// next call (or Flush) and not yet appended.
func (u *Uppercaser) Append(dst, src []byte) []byte {
	if u.n > 0 {
		// Join the held bytes with enough of src to complete any rune
		// that starts among them, process that, and go on in src from
		// wherever processing stopped.
		var tmp [2 * utf8.UTFMax]byte
		k := min(len(src), utf8.UTFMax)
		t := append(append(tmp[:0], u.carry[:u.n]...), src[:k]...)
		var c int
		dst, c = upperRunes(dst, t)
		if c < u.n || c == len(t) && k == len(src) {
			// All of src went into t; keep the unfinished rest.
			u.n = copy(u.carry[:], t[c:])
			return dst
		}
		src = src[c-u.n:]
		u.n = 0
	}
	dst, c := upperRunes(dst, src)
	u.n = copy(u.carry[:], src[c:])
	return dst
}

// Transform uppercases b and returns the result, writing into b itself
// where it can (a run of ASCII with nothing held back, the common case) and
// otherwise appending to scratch. The result aliases b or scratch.
func (u *Uppercaser) Transform(b, scratch []byte) []byte {
	if u.n == 0 {
		k := upperASCII(b, b)
		if k == len(b) {
			return b
		}
		return u.Append(append(scratch[:0], b[:k]...), b[k:])
	}
	return u.Append(scratch[:0], b)
}

// Pending reports how many bytes of an incomplete rune are held back.
func (u *Uppercaser) Pending() int { return u.n }

// Flush appends the held-back bytes of an incomplete rune, unchanged (at the
// end of a stream they are not valid UTF-8), and resets u.
func (u *Uppercaser) Flush(dst []byte) []byte {
	dst = append(dst, u.carry[:u.n]...)
	u.n = 0
	return dst
}

// Upper returns the uppercase form of b as one complete text: what the UDP
// server sends back for a datagram.
func Upper(b []byte) []byte {
	var u Uppercaser
	return u.Flush(u.Append(make([]byte, 0, len(b)+len(b)/8), b))
}

// upperRunes appends the uppercase form of p to dst, stopping before an
// incomplete rune at the end of p. It returns how many bytes of p it used.
func upperRunes(dst, p []byte) ([]byte, int) {
	i := 0
	for i < len(p) {
		if p[i] < utf8.RuneSelf {
			// A run of ASCII: written straight into dst's spare
			// capacity, eight bytes at a time.
			dst = slices.Grow(dst, len(p)-i)
			n := len(dst)
			k := upperASCII(dst[n:n+len(p)-i], p[i:])
			dst = dst[:n+k]
			i += k
			continue
		}
		if !utf8.FullRune(p[i:]) {
			return dst, i
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, p[i]) // not UTF-8: pass through
		} else {
			dst = utf8.AppendRune(dst, unicode.ToUpper(r))
		}
		i += size
	}
	return dst, i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// upperASCII writes to dst the uppercase form of the run of ASCII bytes at
// the start of src and returns the run's length; dst must be at least as
// long as src. It works on eight bytes at a time while they are all ASCII:
// with the top bit of every byte clear, adding 0x80-'a' to each byte sets its
// top bit exactly where the byte is >= 'a', and adding 0x80-'z'-1 where it is
// > 'z'; no addition carries into the next byte. On amd64 with AVX2,
// upperASCIIFast does the same to 32 bytes at a time first. Where the first flag is set
// and the second is not, the byte is a lower-case letter, and 0x80>>2 = 0x20
// is the bit that tells 'a' from 'A'.
func upperASCII(dst, src []byte) int {
	k := upperASCIIFast(dst, src)
	d, s := dst[k:len(src)], src[k:]
	for len(s) >= 32 {
		w0 := binary.LittleEndian.Uint64(s)
		w1 := binary.LittleEndian.Uint64(s[8:])
		w2 := binary.LittleEndian.Uint64(s[16:])
		w3 := binary.LittleEndian.Uint64(s[24:])
		if (w0|w1|w2|w3)&msb != 0 {
			break
		}
		d = d[:len(s)] // lets the compiler drop the bounds checks below
		binary.LittleEndian.PutUint64(d, upperWord(w0))
		binary.LittleEndian.PutUint64(d[8:], upperWord(w1))
		binary.LittleEndian.PutUint64(d[16:], upperWord(w2))
		binary.LittleEndian.PutUint64(d[24:], upperWord(w3))
		s, d = s[32:], d[32:]
	}
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(s)
		if w&msb != 0 {
			break
		}
		d = d[:len(s)]
		binary.LittleEndian.PutUint64(d, upperWord(w))
		s, d = s[8:], d[8:]
	}
	for len(s) > 0 && s[0] < utf8.RuneSelf {
		c := s[0]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		d[0] = c
		s, d = s[1:], d[1:]
	}
	return len(src) - len(s)
}

// upperWord uppercases eight ASCII bytes packed in w.
func upperWord(w uint64) uint64 {
	geA := w + (0x80-'a')*lsb
	gtZ := w + (0x80-'z'-1)*lsb
	return w ^ (geA&^gtZ&msb)>>2
}
