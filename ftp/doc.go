// Package ftp is applayer's FTP server and client: RFC 959 (the File
// Transfer Protocol) with the RFC 1123 section 4.1 corrections, RFC 2428
// (EPSV and EPRT, IPv6), RFC 3659 (SIZE, MDTM, MLST, MLSD, REST STREAM),
// RFC 2389 (FEAT, OPTS), RFC 2640 (UTF8 path names) and RFC 4217 (AUTH TLS,
// PBSZ, PROT).
//
// # Server
//
// A [Server] serves one tree, Root, opened as an [os.Root]: every path a
// client names is resolved inside it, so that "..", absolute paths and
// symlinks pointing outside cannot escape, even when the tree changes
// between a check and an open (the kernel resolves each component under the
// root's descriptor). A session's current directory is a clean virtual path
// ("/", "/pub"); ".." above "/" stays at "/". Anonymous users (USER anonymous
// or ftp) are read-only. An upload (STOR, STOU) is written to a hidden
// temporary file beside its target and renamed over it only when the data
// connection ended cleanly, so a broken upload leaves no half file under the
// real name.
//
// Each session is an explicit state machine (waiting for USER, for PASS,
// logged in) with one goroutine reading the control connection. A transfer
// runs on a goroutine of its own, so that the control connection is still
// read during it: ABOR (with or without the Telnet IP and Synch that RFC 959
// section 4.1.3 describes, whose bytes are skipped) closes the data
// connection and is answered 426 then 226; STAT reports progress. Other
// commands sent during a transfer wait for its end.
//
// A data connection must come from the control connection's address: a
// passive connection from another address is closed and the server keeps
// waiting for the right one (no PASV theft), and PORT and EPRT to another
// address or to a port below 1024 are refused (no FTP bounce, RFC 2577).
// A new PASV or EPSV closes the previous passive socket, so a client cannot
// hold more than one. RETR of a binary file goes through sendfile(2) when the
// data connection is plain TCP (io.Copy from *os.File to *net.TCPConn).
//
// # Client
//
// [Dial] opens a control connection; [Conn] logs in, lists (MLSD, falling
// back to LIST, whose Unix-style lines [ParseListLine] reads), retrieves and
// stores over passive connections (EPSV, then PASV), optionally over TLS.
package ftp
