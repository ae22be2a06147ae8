//go:build !amd64

package upper

const hasAVX2 = false

func upperASCIIFast(dst, src []byte) int { return 0 }
