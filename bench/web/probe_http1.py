#!/usr/bin/env python3
"""probe_http1.py: HTTP/1.0 and 1.1 checks on the wire (RFC 9110, RFC 9112,
the textbook's status codes and persistence rules) against one or more
servers on loopback, side by side.

    probe_http1.py NAME=127.0.0.1:PORT [NAME=HOST:PORT ...]

Each server must serve a tree with /1k.html (a file), /sub/index.html (a
directory with an index) and nothing at /missing. Each check opens its own
connection with a 3-second timeout; nothing loops."""
import re
import socket
import sys
import time

TIMEOUT = 3.0


def exchange(addr, raw, read_all=True):
    """Send raw bytes, read until the server closes or goes quiet. Returns
    (data, closed)."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.sendall(raw)
    data, closed = b"", False
    s.settimeout(0.5 if not read_all else TIMEOUT)
    end = time.time() + TIMEOUT
    try:
        while time.time() < end:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
            s.settimeout(0.5)
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return data, closed


def status(data):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def statuses(data):
    return [int(x) for x in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


def header(data, name):
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def body(data):
    return data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


GET = b"GET /1k.html HTTP/1.1\r\nHost: x\r\n\r\n"


def checks(addr):
    first, _ = exchange(addr, GET)
    lm, etag = header(first, "Last-Modified"), header(first, "ETag")
    out = []

    def check(name, ok):
        out.append((name, bool(ok)))

    d, _ = exchange(addr, GET)
    check("GET 200 with Date, Server, Content-Type, Content-Length, Last-Modified, ETag",
          status(d) == 200 and all(header(d, h) for h in ["Date", "Server", "Content-Type", "Content-Length", "Last-Modified", "ETag"]))
    d, _ = exchange(addr, b"HEAD /1k.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("HEAD: 200, Content-Length, no body", status(d) == 200 and header(d, "Content-Length") == "1024" and body(d) == b"")
    d, _ = exchange(addr, b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("missing file: 404", status(d) == 404)
    d, _ = exchange(addr, b"GET /sub HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("directory without slash: 301 to the slash", status(d) == 301 and (header(d, "Location") or "").endswith("sub/"))
    d, _ = exchange(addr, b"GET /sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("directory: its index.html", status(d) == 200 and b"sub index" in body(d))
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + (lm or "").encode() + b"\r\nConnection: close\r\n\r\n")
    check("If-Modified-Since: 304 without a body", status(d) == 304 and body(d) == b"")
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + (etag or '"none"').encode() + b"\r\nConnection: close\r\n\r\n")
    check("If-None-Match: 304", status(d) == 304)
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n")
    check("Range: 206 with Content-Range", status(d) == 206 and header(d, "Content-Range") == "bytes 0-9/1024" and len(body(d)) == 10)
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nRange: bytes=5000-\r\nConnection: close\r\n\r\n")
    check("unsatisfiable Range: 416", status(d) == 416)
    d, _ = exchange(addr, GET + GET + b"GET /1k.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("three pipelined requests: three responses", statuses(d) == [200, 200, 200])
    d, closed = exchange(addr, b"GET /1k.html HTTP/1.0\r\n\r\n")
    check("HTTP/1.0: closed after the response", status(d) == 200 and closed)
    d, closed = exchange(addr, b"GET /1k.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", read_all=False)
    check("HTTP/1.0 keep-alive: kept open", status(d) == 200 and not closed)
    d, closed = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("Connection: close honoured", status(d) == 200 and closed)
    d, closed = exchange(addr, GET, read_all=False)
    check("HTTP/1.1: kept open by default", status(d) == 200 and not closed)
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\n\r\n")
    check("HTTP/1.1 without Host: 400", status(d) == 400)
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    check("two Host fields: 400", status(d) == 400)
    d, _ = exchange(addr, b"GET /1k.html HTTP/3.0\r\nHost: x\r\n\r\n")
    check("HTTP/3.0 request line: 505", status(d) == 505)
    t0 = time.time()
    d, _ = exchange(addr, b"GARBAGE\r\n\r\n")
    check("garbage: 400 at once", status(d) == 400 and time.time() - t0 < 2)
    d, _ = exchange(addr, b"POST /1k.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    check("Content-Length and Transfer-Encoding: 400", status(d) == 400)
    d, _ = exchange(addr, b"POST /1k.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
    check("two different Content-Lengths: 400", status(d) == 400)
    d, _ = exchange(addr, b"POST /1k.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
    check("bare LF in a chunk line: refused, nothing smuggled", status(d) in (400, 405) and 404 not in statuses(d))
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n")
    check("obsolete line folding: 400", status(d) == 400)
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost : x\r\n\r\n")
    check("whitespace before the colon: 400", status(d) == 400)
    d, _ = exchange(addr, b"POST /1k.html HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
    check("POST to a static file: 405 with Allow", status(d) == 405 and header(d, "Allow"))
    d, _ = exchange(addr, b"GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("/../../etc/passwd: refused", status(d) in (400, 403, 404) and b"root:" not in d)
    d, _ = exchange(addr, b"GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("/%2e%2e/ traversal: refused", status(d) in (400, 403, 404) and b"root:" not in d)
    d, _ = exchange(addr, b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check("10 KB request line: 414", status(d) == 414)
    d, _ = exchange(addr, b"GET /1k.html HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n")
    check("70 KB header field: 431 (or 400)", status(d) in (431, 400))
    return out


def main():
    servers = [a.split("=", 1) for a in sys.argv[1:]]
    if not servers:
        print(__doc__)
        sys.exit(2)
    results = {name: checks(addr) for name, addr in servers}
    names = [n for n, _ in servers]
    print("| check | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for i, (check, _) in enumerate(results[names[0]]):
        print("| " + check + " | " + " | ".join("pass" if results[n][i][1] else "**FAIL**" for n in names) + " |")
    print("| total | " + " | ".join("%d/%d" % (sum(ok for _, ok in results[n]), len(results[n])) for n in names) + " |")


if __name__ == "__main__":
    main()
