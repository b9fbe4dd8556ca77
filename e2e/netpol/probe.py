#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One source pod's probes, all at once: run inside the pod's network
namespace, it reads targets as JSON lines {"key", "ip", "port", "proto"} and
prints {"key": true|false} once every probe answered or timed out.

    probe.py TIMEOUT_S < TARGETS

Allowed means the server's answer came back (TCP/SCTP: connect, read the
answer; UDP: one datagram out, the answer back), so a reply path is needed too.
"""

import json
import socket
import sys
import threading

IPPROTO_SCTP = 132
KINDS = {"TCP": (socket.SOCK_STREAM, 0), "UDP": (socket.SOCK_DGRAM, 0),
         "SCTP": (socket.SOCK_STREAM, IPPROTO_SCTP)}


def probe(t, timeout):
    stype, proto = KINDS[t["proto"]]
    with socket.socket(socket.AF_INET, stype, proto) as s:
        s.settimeout(timeout)
        try:
            if stype == socket.SOCK_DGRAM:
                s.sendto(b"q", (t["ip"], t["port"]))
                return len(s.recvfrom(2048)[0]) > 0
            s.connect((t["ip"], t["port"]))
            return len(s.recv(2048)) > 0
        except OSError:
            return False


def main():
    timeout = float(sys.argv[1])
    targets = [json.loads(line) for line in sys.stdin if line.strip()]
    results = {}

    def run(t):
        results[t["key"]] = probe(t, timeout)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
