# SPDX-License-Identifier: Apache-2.0
# Services and EndpointSlices on an emulated cluster (e2e/lib/cluster.bash),
# and the servers and clients that test them from pods.

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=e2e/lib/cluster.bash
declare -F cluster_vars >/dev/null || . "$SL_REPO/e2e/lib/cluster.bash"

# --- Services and EndpointSlices ----------------------------------------------------
#
# Services and EndpointSlices written with kubectl as the API's controllers
# would: the stand-in allocates the ClusterIP, the test plays the
# EndpointSlice controller (endpoints, conditions, nodeName).

# svc_apply NAME PORTS_JSON [SPEC_JSON]: creates or replaces Service NAME in
# default; PORTS_JSON e.g. '[{"name":"http","port":80,"targetPort":8080}]'.
# SPEC_JSON is merged into spec (sessionAffinity, type, ...), "labels" into
# metadata.labels. Prints the ClusterIP.
svc_apply() {
	local name=$1 ports=$2 spec=${3:-'{}'} obj
	obj=$(jq -cn --arg n "$name" --argjson p "$ports" --argjson x "$spec" '{
		apiVersion: "v1", kind: "Service",
		metadata: ({name: $n, namespace: "default"} + (if $x.labels then {labels: $x.labels} else {} end)),
		spec: ({type: "ClusterIP", selector: {app: $n}, ports: $p} + ($x | del(.labels)))}')
	if kube get service "$name" >/dev/null 2>&1; then
		kube get service "$name" -o json |
			jq -c --argjson o "$obj" '.spec = (.spec * ($o.spec)) | .spec.ports = $o.spec.ports
				| .metadata.labels = ($o.metadata.labels // .metadata.labels)' |
			kube replace -f - >/dev/null || return 1
	else
		kube create -f - <<<"$obj" >/dev/null || return 1
	fi
	svc_ip "$name"
}

svc_ip() { kube get service "$1" -o jsonpath='{.spec.clusterIP}'; }
svc_delete() { kube delete service "$1" --ignore-not-found >/dev/null && kube delete endpointslice "$1-1" --ignore-not-found >/dev/null; }

# ep IP NODE_INDEX [ready serving terminating]: one endpoint (conditions default true true false).
ep() {
	jq -cn --arg ip "$1" --arg node "$(node_name "$2")" --argjson r "${3:-true}" --argjson s "${4:-true}" \
		--argjson t "${5:-false}" '{addresses: [$ip], nodeName: $node,
		conditions: {ready: $r, serving: $s, terminating: $t}}'
}

# eps_apply NAME PORTS_JSON EP_JSON...: EndpointSlice NAME-1 of Service NAME with
# the given endpoints (ep output) and ports ('[{"name":"http","port":8080,"protocol":"TCP"}]').
eps_apply() {
	local name=$1 ports=$2 obj
	shift 2
	obj=$(printf '%s\n' "$@" | jq -cs --arg n "$name" --argjson p "$ports" '{
		apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", addressType: "IPv4",
		metadata: {name: ($n + "-1"), namespace: "default",
			labels: {"kubernetes.io/service-name": $n,
				"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
		endpoints: ., ports: $p}')
	if kube get endpointslice "$name-1" >/dev/null 2>&1; then
		kube get endpointslice "$name-1" -o json |
			jq -c --argjson o "$obj" '.endpoints = $o.endpoints | .ports = $o.ports' | kube replace -f - >/dev/null
	else
		kube create -f - <<<"$obj" >/dev/null
	fi
}

# pod_serve ID [PORT]: an HTTP server in pod ID of the current node answering
# GET / with "ID" and /cgi-bin/ip with the client's address.
pod_serve() {
	local id=$1 port=${2:-$SL_HTTP_PORT} ns d
	ns=$(pod_ns "$id")
	d=$SL_SCRATCH/www-$id
	mkdir -p "$d/cgi-bin" && cp "$(www_dir)/cgi-bin/ip" "$d/cgi-bin/ip" && echo "$id" >"$d/index.html" || return 1
	nsenter --net="/run/netns/$ns" "$SL_BUSYBOX" httpd -f -p "$port" -h "$d" \
		</dev/null >>"$SL_SCRATCH/httpd.log" 2>&1 3>&- &
	echo $! >"$SL_SCRATCH/pids/httpd-$ns-$port"
	wait_for 5 ns_listening "$ns" "$port" || sl_die "httpd in $ns did not listen on $port"
}

# udp_serve ID PORT: a UDP echo server in pod ID answering "ID <client ip>".
udp_serve() {
	local ns
	ns=$(pod_ns "$1")
	nsenter --net="/run/netns/$ns" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(("%s %s" % (sys.argv[1], peer[0])).encode(), peer)
' "$1" "$2" </dev/null >>"$SL_SCRATCH/udp.log" 2>&1 3>&- &
	echo $! >"$SL_SCRATCH/pids/udp-$ns-$2"
	wait_for 5 sh -c "nsenter --net=/run/netns/$ns ss -Hlun 'sport = :$2' | grep -q ."
}

# udp_ask NS IP PORT [SRC_PORT]: one datagram from NS, prints the answer (1 s timeout).
udp_ask() {
	ns_exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if len(sys.argv) > 3: s.bind(("0.0.0.0", int(sys.argv[3])))
s.settimeout(1)
s.sendto(b"q", (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(2048)[0].decode())
' "${@:2}"
}

# udp_connected_err NS IP PORT: one datagram on a connected UDP socket, then a
# receive: prints "refused" when ICMP port unreachable came back for it, else
# what happened ("timeout", an answer).
udp_connected_err() {
	ns_exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"q")
try:
    print("answer", s.recv(2048).decode())
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
' "$2" "$3"
}
udp_refused() { [ "$(udp_connected_err "$@")" = refused ]; }

# pinned_ip_port I MAP PART IP PORT: node I's pinned MAP has an entry whose
# PART (key or value) starts with IP:PORT (network order, as the ABI lays
# both out first).
pinned_ip_port() {
	local pin=/sys/fs/bpf/sluice-$SL_CLUSTER_RND-$1/$2 part=$3 ip=$4 port=$5 IFS=.
	# shellcheck disable=SC2086
	set -- $ip
	bpftool -j map dump pinned "$pin" 2>/dev/null |
		jq -e --arg p "$part" --argjson k "$(printf '["0x%02x","0x%02x","0x%02x","0x%02x","0x%02x","0x%02x"]' \
			"$1" "$2" "$3" "$4" $((port >> 8)) $((port & 255)))" 'any(.[]; .[$p][0:6] == $k)' >/dev/null
}

# be4_has I IP PORT: node I's sl_be4 holds the backend IP:PORT (published
# before the slots and the master that lead to it).
be4_has() { pinned_ip_port "$1" sl_be4 value "$2" "$3"; }

# svc4_has I IP PORT: node I's sl_svc4 holds a key for IP:PORT (any scope, slot).
svc4_has() { pinned_ip_port "$1" sl_svc4 key "$2" "$3"; }

# udp_late_serve ID PORT: a one-shot UDP server in pod ID on PORT that answers
# its first datagram late (0.5 s, its client's socket closed by then) on a
# socket connected to the client, and writes to $SL_SCRATCH/late-ID-PORT
# "refused" when a port unreachable about that answer came back, else
# "timeout" (3 s).
udp_late_serve() {
	local ns out=$SL_SCRATCH/late-$1-$2
	ns=$(pod_ns "$1")
	rm -f "$out"
	nsenter --net="/run/netns/$ns" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
data, peer = s.recvfrom(2048)
s.connect(peer)
time.sleep(0.5)
s.send(b"late")
s.settimeout(3)
try:
    s.recv(2048); r = "answer"
except ConnectionRefusedError:
    r = "refused"
except socket.timeout:
    r = "timeout"
open(sys.argv[2], "w").write(r + "\n")
' "$2" "$out" </dev/null >>"$SL_SCRATCH/udp.log" 2>&1 3>&- &
	echo $! >"$SL_SCRATCH/pids/late-$ns-$2"
	wait_for 5 sh -c "nsenter --net=/run/netns/$ns ss -Hlun 'sport = :$2' | grep -q ."
}

# udp_late_result ID PORT: what udp_late_serve in pod ID on PORT wrote (5 s to write it).
udp_late_result() {
	wait_for 5 test -s "$SL_SCRATCH/late-$1-$2" && cat "$SL_SCRATCH/late-$1-$2"
}

# udp_send_close NS IP PORT: one datagram from NS, its socket closed at once.
udp_send_close() {
	ns_exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"q", (sys.argv[1], int(sys.argv[2])))
s.close()
' "$2" "$3"
}

# udp_pmtu NS IP PORT BYTES: BYTES-byte datagrams with DF (IP_PMTUDISC_DO) on a
# connected UDP socket until one is answered (5 tries), shrunk to what the
# kernel learned of the path MTU after "fragmentation needed"; prints the
# path MTU and the size answered, or "timeout" and the path MTU.
udp_pmtu() {
	ns_exec "$1" python3 -c '
import errno, socket, sys
IP_MTU_DISCOVER, IP_PMTUDISC_DO, IP_MTU = 10, 2, 14
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
s.settimeout(1)
s.connect((sys.argv[1], int(sys.argv[2])))
size = int(sys.argv[3])
for _ in range(5):
    try:
        s.send(b"x" * size)
        s.recv(2048)
        print(s.getsockopt(socket.IPPROTO_IP, IP_MTU), size)
        sys.exit(0)
    except socket.timeout:
        pass
    except OSError as e:
        if e.errno != errno.EMSGSIZE:
            raise
    size = min(size, s.getsockopt(socket.IPPROTO_IP, IP_MTU) - 28)
print("timeout", s.getsockopt(socket.IPPROTO_IP, IP_MTU))
' "$2" "$3" "$4"
}

# tcp_upload NS IP PORT BYTES: sends BYTES over one connection, prints the
# server's count of what arrived (15 s to finish).
tcp_upload() {
	ns_exec "$1" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=15)
s.sendall(b"x" * int(sys.argv[3]))
s.shutdown(socket.SHUT_WR)
print(s.recv(64).decode())
' "$2" "$3" "$4"
}

# tcp_sink ID PORT: a server in pod ID answering each connection with the
# number of bytes it received.
tcp_sink() {
	local ns
	ns=$(pod_ns "$1")
	nsenter --net="/run/netns/$ns" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); n = 0
    while True:
        d = c.recv(65536)
        if not d: break
        n += len(d)
    c.sendall(str(n).encode()); c.close()
' "$2" </dev/null >>"$SL_SCRATCH/sink.log" 2>&1 3>&- &
	echo $! >"$SL_SCRATCH/pids/sink-$ns-$2"
	wait_for 5 ns_listening "$ns" "$2"
}

# tcp_refused_ms NS IP PORT: connects once; prints the milliseconds it took to
# be refused; fails if the connect succeeded or failed any other way.
tcp_refused_ms() {
	ns_exec "$1" python3 -c '
import errno, socket, sys, time
t = time.monotonic()
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
except ConnectionRefusedError:
    print(int((time.monotonic() - t) * 1000)); sys.exit(0)
except Exception as e:
    print(repr(e)); sys.exit(1)
print("connected"); sys.exit(1)
' "$2" "$3"
}

# svc_map_dump NAME: the current node's pinned service map NAME as sorted
# "key -> value" hex lines (bpftool), for before/after comparisons.
svc_map_dump() {
	bpftool -j map dump pinned "$SL_PIN/$1" |
		jq -r '.[] | "\(.key | join(" ")) -> \(.value | join(" "))"' | sort
}

# tcp_serve ID PORT: a cheap HTTP responder in pod ID (no fork per request)
# answering every connection with "200 ID", for load tests.
tcp_serve() {
	local ns
	ns=$(pod_ns "$1")
	nsenter --net="/run/netns/$ns" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(1024)
body = sys.argv[1].encode() + b"\n"
resp = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
while True:
    c, _ = s.accept()
    try:
        c.recv(1024); c.sendall(resp)
    except OSError:
        pass
    c.close()
' "$1" "$2" </dev/null >>"$SL_SCRATCH/tcp.log" 2>&1 3>&- &
	echo $! >"$SL_SCRATCH/pids/tcp-$ns-$2"
	wait_for 5 ns_listening "$ns" "$2" || sl_die "tcp server in $ns did not listen on $2"
}

# within SECS CMD...: CMD succeeds within SECS seconds of wall time (each try
# may itself take seconds, so wait_for's count of tries would stretch a failure).
within() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.2
	done
}

# http_says NS URL WANT: one request from NS answers WANT.
http_says() { [ "$(http_get "$1" "$2")" = "$3" ]; }

# --- checksums: offloads off inside the test's namespaces ---------------------------

# offload NS DEV FEATURE on|off: one ethtool -K inside NS.
offload() { ns_exec "$1" ethtool -K "$2" "$3" "$4" >/dev/null; }

# csum_verify_in NS...: rx checksumming off on every veth of each NS, so a veth
# hands a CHECKSUM_NONE packet on as it is instead of vouching for it
# (UNNECESSARY), and the receiving stack verifies the checksum itself.
csum_verify_in() {
	local ns dev
	for ns in "$@"; do
		for dev in $(ip -n "$ns" -o link show type veth | sed -n 's/^[0-9]*: \([^@:]*\)[@:].*/\1/p'); do
			offload "$ns" "$dev" rx off || return 1
		done
	done
}

# csum_errors NS: the TCP and UDP checksum errors NS's stack has counted.
csum_errors() {
	ns_exec "$1" nstat -asz TcpInCsumErrors UdpInCsumErrors | awk '{ n += $2 } END { print n + 0 }'
}
