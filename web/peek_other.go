//go:build !linux

package web

// peekReady reports the socket ready at once where no non-consuming peek is
// wired up: the connection then waits in its read, holding its buffer.
func peekReady(uintptr) bool { return true }
