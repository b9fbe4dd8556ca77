#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""make bench-policy's client: opens a new TCP connection to HOST:PORT every
INTERVAL ms, without waiting for the previous ones, and prints one line per
attempt, "START_NS ok|refused|timeout", START_NS being CLOCK_REALTIME when
its SYN was sent. A connection not up within TIMEOUT ms is a timeout (what
a policy drop looks like). Runs until killed or for SECONDS.

Usage: policy_probe.py HOST PORT [INTERVAL_MS] [TIMEOUT_MS] [SECONDS]"""
import errno
import selectors
import socket
import struct
import sys
import time


def attempt_open(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    # RST on close: no TIME_WAIT, so the ports last a long run
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    start = time.time_ns()
    rc = s.connect_ex((host, port))
    return s, start, rc


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    interval = float(sys.argv[3] if len(sys.argv) > 3 else 5) / 1000
    timeout = float(sys.argv[4] if len(sys.argv) > 4 else 100) / 1000
    end = time.monotonic() + float(sys.argv[5]) if len(sys.argv) > 5 else None
    sel = selectors.DefaultSelector()
    pending = {}  # socket -> (start_ns, deadline)
    out = sys.stdout
    nxt = time.monotonic()
    while end is None or time.monotonic() < end:
        now = time.monotonic()
        if now >= nxt:
            s, start, rc = attempt_open(host, port)
            if rc in (0, errno.EINPROGRESS):
                pending[s] = (start, now + timeout)
                sel.register(s, selectors.EVENT_WRITE)
            else:
                out.write(f"{start} {'refused' if rc == errno.ECONNREFUSED else 'timeout'}\n")
                s.close()
            nxt += interval
        for key, _ in sel.select(max(0.0, min(nxt - time.monotonic(), 0.005))):
            s = key.fileobj
            start, _ = pending.pop(s)
            sel.unregister(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            out.write(f"{start} {'ok' if err == 0 else 'refused'}\n")
            s.close()
        now = time.monotonic()
        for s, (start, deadline) in list(pending.items()):
            if now >= deadline:
                del pending[s]
                sel.unregister(s)
                out.write(f"{start} timeout\n")
                s.close()
        out.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
