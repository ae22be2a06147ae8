#!/usr/bin/env python3
"""Open N keep-alive connections to 127.0.0.1:PORT, send one request on each,
read its response, and hold them all idle for HOLD seconds; print when ready.
Bounded: N connections, one request each, then exit after HOLD seconds."""
import selectors, socket, sys, time

port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
path = sys.argv[4] if len(sys.argv) > 4 else "/1k.html"
req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
socks = []
sel = selectors.DefaultSelector()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
    if len(socks) % 500 == 0:
        # Drain responses as we go so server buffers empty.
        for t in socks[-500:]:
            t.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += t.recv(65536)
            hdr, _, body = data.partition(b"\r\n\r\n")
            length = int([l.split(b":")[1] for l in hdr.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            while len(body) < length:
                body += t.recv(65536)
print("ready", len(socks), flush=True)
time.sleep(hold)
