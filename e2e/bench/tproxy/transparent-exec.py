#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A transparent listening socket handed to nginx (e2e/bench/lib/tproxy.bash).

Usage: transparent-exec.py PORT STAMP CMD...

nginx's "listen" cannot set IP_TRANSPARENT, which the TPROXY target requires
of the socket it diverts to. This opens 0.0.0.0:PORT with IP_TRANSPARENT and
execs CMD (nginx) with NGINX="<fd>;", the variable nginx reads its inherited
listening sockets from during a binary upgrade, in a session of its own and
with no other descriptor of the caller's. STAMP receives the wall clock
(µs) just before the exec, so the caller can time nginx's own start.
"""
import os
import socket
import sys
import time

IP_TRANSPARENT = getattr(socket, "IP_TRANSPARENT", 19)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.splitlines()[2])
    port, stamp, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(4096)
    fd = sock.detach()
    os.set_inheritable(fd, True)
    os.closerange(3, fd)
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
    try:
        os.setsid()
    except OSError:  # already a session leader
        pass
    env = dict(os.environ, NGINX=f"{fd};")
    with open(stamp, "w", encoding="ascii") as f:
        f.write(f"{time.time_ns() // 1000}\n")
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
