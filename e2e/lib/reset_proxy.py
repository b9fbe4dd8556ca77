#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TCP relay between the agent and the real kube-apiserver
(e2e/reliability/faults-real.bats): LISTEN -> UPSTREAM, bytes untouched
(TLS and HTTP/2 pass through). SIGUSR1 resets every relayed connection with
a TCP RST on both sides, as a middlebox or a dying apiserver would. Counts go
to STATS (JSON): connections accepted, open now, reset.

  reset_proxy.py LISTEN_IP:PORT UPSTREAM_IP:PORT STATS
"""
import json
import os
import signal
import socket
import struct
import sys
import threading

lock = threading.Lock()
conns = set()
stats = {"accepted": 0, "open": 0, "reset": 0}


def stats_write(path):
    with lock:
        stats["open"] = len(conns)
        data = json.dumps(stats)
    with open(path + ".tmp", "w") as fh:
        fh.write(data)
    os.rename(path + ".tmp", path)


def pump(src, dst, pair, path):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    with lock:
        mine = pair in conns
        conns.discard(pair)
    for s in pair:
        try:
            if mine:  # an end of its own: relayed as one (FIN)
                s.shutdown(socket.SHUT_RDWR)
            else:     # reset: linger 0, so the close sends a RST
                s.close()
        except OSError:
            pass
    if mine:
        stats_write(path)


def reset_all(path):
    with lock:
        pairs = list(conns)
        conns.clear()
        stats["reset"] += len(pairs)
    # A close() would not wake the pumps blocked in recv() (nor free the
    # socket before they return); SHUT_RD wakes them without sending
    # anything, and their close() then sends the RST.
    for pair in pairs:
        for s in pair:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass
    stats_write(path)


def main():
    listen, upstream, path = sys.argv[1], sys.argv[2], sys.argv[3]
    lh, lp = listen.rsplit(":", 1)
    uh, up = upstream.rsplit(":", 1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((lh, int(lp)))
    srv.listen(64)
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=reset_all,
                                                              args=(path,)).start())
    stats_write(path)
    while True:
        c, _ = srv.accept()
        try:
            u = socket.create_connection((uh, int(up)), timeout=5)
            u.settimeout(None)
        except OSError:
            c.close()
            continue
        pair = (c, u)
        with lock:
            conns.add(pair)
            stats["accepted"] += 1
        stats_write(path)
        threading.Thread(target=pump, args=(c, u, pair, path), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, pair, path), daemon=True).start()


if __name__ == "__main__":
    main()
