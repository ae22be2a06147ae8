package upper

import (
	"encoding/binary"
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
			j := asciiEnd(p, i)
			dst = appendUpperASCII(dst, p[i:j])
			i = j
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

// asciiEnd returns the end of the run of ASCII bytes starting at p[i].
func asciiEnd(p []byte, i int) int {
	for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&msb == 0 {
		i += 8
	}
	for i < len(p) && p[i] < utf8.RuneSelf {
		i++
	}
	return i
}

// appendUpperASCII appends s, which is all ASCII, with a-z uppercased. It
// works on eight bytes at a time: with the top bit of every byte clear,
// adding 0x80-'a' to each byte sets the top bit exactly where the byte is
// >= 'a', and adding 0x80-'z'-1 where it is > 'z'; no addition carries into
// the next byte.
func appendUpperASCII(dst, s []byte) []byte {
	n := len(dst)
	dst = append(dst, s...)
	b := dst[n:]
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		geA := w + (0x80-'a')*lsb
		gtZ := w + (0x80-'z'-1)*lsb
		mask := (geA &^ gtZ) & msb
		binary.LittleEndian.PutUint64(b[i:], w^(mask>>2))
	}
	for ; i < len(b); i++ {
		if c := b[i]; 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return dst
}
