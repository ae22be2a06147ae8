package upper

import "golang.org/x/sys/cpu"

// upperASCIIAVX2 is in ascii_amd64.s.
//
//go:noescape
func upperASCIIAVX2(dst, src []byte) int

var hasAVX2 = cpu.X86.HasAVX2

// upperASCIIFast uppercases whole 32-byte blocks of ASCII with AVX2 where
// the processor has it, and returns how many bytes it did; upperASCII goes
// on from there with the portable code.
func upperASCIIFast(dst, src []byte) int {
	if !hasAVX2 || len(src) < 32 {
		return 0
	}
	return upperASCIIAVX2(dst[:len(src)], src)
}
