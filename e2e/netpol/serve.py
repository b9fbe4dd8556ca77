#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The model pod's servers: TCP, UDP and (if the kernel has it) SCTP on every
port given, one process, answering each connection or datagram with NAME.

    serve.py NAME PORT...
"""

import selectors
import socket
import sys

IPPROTO_SCTP = 132


def listeners(ports):
    out = []
    for port in ports:
        kinds = [("tcp", socket.SOCK_STREAM, 0), ("udp", socket.SOCK_DGRAM, 0),
                 ("sctp", socket.SOCK_STREAM, IPPROTO_SCTP)]
        for name, stype, proto in kinds:
            try:
                s = socket.socket(socket.AF_INET, stype, proto)
            except OSError:
                if name == "sctp":
                    continue  # no SCTP in this kernel: the suites skip its cells
                raise
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            if stype == socket.SOCK_STREAM:
                s.listen(512)
            s.setblocking(False)
            out.append((name, s))
    return out


def main():
    answer = sys.argv[1].encode()
    sel = selectors.DefaultSelector()
    for name, s in listeners([int(p) for p in sys.argv[2:]]):
        sel.register(s, selectors.EVENT_READ, name)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            try:
                if key.data == "udp":
                    _, peer = s.recvfrom(2048)
                    s.sendto(answer, peer)
                else:
                    c, _ = s.accept()
                    c.setblocking(True)
                    c.settimeout(1)
                    c.sendall(answer)
                    c.close()
            except OSError:
                pass


if __name__ == "__main__":
    main()
