// The ASCII uppercasing of upperASCII (uppercase.go), 32 bytes at a time
// with AVX2. Same arithmetic as upperWord: for bytes below 0x80, x+0x1f has
// its top bit set where x >= 'a', x+0x05 where x > 'z'; the top bits of the
// first and not the second, shifted down to 0x20, flip lower case to upper.

#include "textflag.h"

DATA addA<>+0(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA addA<>+8(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA addA<>+16(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA addA<>+24(SB)/8, $0x1f1f1f1f1f1f1f1f
GLOBL addA<>(SB), RODATA|NOPTR, $32

DATA addZ<>+0(SB)/8, $0x0505050505050505
DATA addZ<>+8(SB)/8, $0x0505050505050505
DATA addZ<>+16(SB)/8, $0x0505050505050505
DATA addZ<>+24(SB)/8, $0x0505050505050505
GLOBL addZ<>(SB), RODATA|NOPTR, $32

DATA top<>+0(SB)/8, $0x8080808080808080
DATA top<>+8(SB)/8, $0x8080808080808080
DATA top<>+16(SB)/8, $0x8080808080808080
DATA top<>+24(SB)/8, $0x8080808080808080
GLOBL top<>(SB), RODATA|NOPTR, $32

// func upperASCIIAVX2(dst, src []byte) int
// Uppercases whole 32-byte blocks of src into dst while they are all ASCII;
// returns how many bytes it did (a multiple of 32). len(dst) >= len(src).
TEXT ·upperASCIIAVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	XORQ AX, AX
	VMOVDQU addA<>(SB), Y1
	VMOVDQU addZ<>(SB), Y2
	VMOVDQU top<>(SB), Y3

loop:
	LEAQ 32(AX), BX
	CMPQ BX, CX
	JA   done
	VMOVDQU (SI)(AX*1), Y0
	VPMOVMSKB Y0, DX
	TESTL DX, DX
	JNZ  done
	VPADDB Y1, Y0, Y4 // Y4 = x + 0x1f: top bit where x >= 'a'
	VPADDB Y2, Y0, Y5 // Y5 = x + 0x05: top bit where x > 'z'
	VPANDN Y4, Y5, Y4 // Y4 = Y4 &^ Y5
	VPAND Y3, Y4, Y4  // keep the top bits
	VPSRLW $2, Y4, Y4 // 0x80 -> 0x20 (no bit crosses a byte: only bit 7 is set)
	VPXOR Y4, Y0, Y0
	VMOVDQU Y0, (DI)(AX*1)
	MOVQ BX, AX
	JMP  loop

done:
	VZEROUPPER
	MOVQ AX, ret+48(FP)
	RET
