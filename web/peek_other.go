//go:build !linux || 386

package web

// peekReady reports the socket ready at once where no non-consuming peek is
// wired up (elsewhere than Linux, and on 386, whose socket calls go through
// socketcall): the connection then waits in its read, holding its buffer.
func peekReady(uintptr) bool { return true }
