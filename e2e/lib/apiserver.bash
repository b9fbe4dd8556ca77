# SPDX-License-Identifier: Apache-2.0
# The Kubernetes API stand-in for the e2e suites, the demo and the benches:
# makes a CA and server certificate with openssl, starts e2e/apiserver/server.py
# inside the fabric namespace on 172.18.0.1:6443, writes a kubeconfig, and runs
# Debian's kubectl 1.20 against it. Nothing listens in the machine's namespace.
#
# Source after e2e/lib/node.bash. State lives in SCRATCH/apiserver/ (and
# SCRATCH/kubeconfig); apiserver_load SCRATCH restores it in another process.

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SL_API_IP=${SL_API_IP:-172.18.0.1}
SL_API_PORT=${SL_API_PORT:-6443}
SL_API_PREFIX=${SL_API_PREFIX:-16}
SL_API_READY_SECS=${SL_API_READY_SECS:-10} # raise for a big --preload on a busy machine
# Debian's kubernetes-client, unpacked (it cannot be installed next to the
# gcloud kubectl that owns /usr/bin/kubectl); the one on PATH is a dispatcher.
SL_KUBECTL_ROOT=${SL_KUBECTL_ROOT:-/var/cache/sluice/kubernetes-client}
SL_KUBECTL=${SL_KUBECTL:-$SL_KUBECTL_ROOT/usr/bin/kubectl}

api_die() {
	printf 'apiserver.bash: %s\n' "$*" >&2
	return 1
}

# kubectl_ensure: unpacks kubernetes-client (apt-get download + dpkg-deb -x)
# into SL_KUBECTL_ROOT unless SL_KUBECTL is already there.
kubectl_ensure() {
	[ -x "$SL_KUBECTL" ] && return 0
	[ "$(id -u)" = 0 ] || api_die "$SL_KUBECTL is missing; run as root to fetch kubernetes-client" || return 1
	local tmp rc=0
	tmp=$(mktemp -d) || return 1
	# A machine whose package lists were never fetched needs them first.
	if (cd "$tmp" && { timeout 120 apt-get download -q kubernetes-client >/dev/null 2>&1 ||
		{ timeout 300 apt-get update -qq && timeout 120 apt-get download -q kubernetes-client >/dev/null 2>&1; }; }) &&
		mkdir -p "$SL_KUBECTL_ROOT" && dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$SL_KUBECTL_ROOT"; then
		[ -x "$SL_KUBECTL" ] || rc=1
	else
		rc=1
	fi
	rm -rf "$tmp"
	[ "$rc" = 0 ] || api_die "could not fetch kubernetes-client into $SL_KUBECTL_ROOT"
}

# apiserver_vars FABRIC_NS SCRATCH: every name and path of one stand-in.
apiserver_vars() {
	export SL_API_NS=$1 SL_API_SCRATCH=$2
	export SL_API_DIR=$2/apiserver
	export SL_KUBECONFIG=$2/kubeconfig
	export SL_API_URL="https://$SL_API_IP:$SL_API_PORT"
	export SL_API_CA=$SL_API_DIR/ca.crt SL_API_LOG=$SL_API_DIR/requests.log
	export SL_API_TOKEN_FILE=$SL_API_DIR/token
}

apiserver_load() {
	[ -f "$1/apiserver/ns" ] || api_die "no stand-in state in $1" || return 1
	apiserver_vars "$(cat "$1/apiserver/ns")" "$1"
}

apiserver_token() { cat "$SL_API_TOKEN_FILE"; }

apiserver_pid() { cat "$SL_API_DIR/pid" 2>/dev/null; }

apiserver_running() {
	local pid
	pid=$(apiserver_pid) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# apiserver_bridge_addr: the fabric bridge carries SL_API_IP (idempotent).
apiserver_bridge_addr() {
	local br
	br=$(ip -n "$SL_API_NS" -o link show type bridge | awk -F': ' 'NR == 1 { sub(/@.*/, "", $2); print $2 }')
	[ -n "$br" ] || api_die "no bridge in namespace $SL_API_NS" || return 1
	if ! ip -n "$SL_API_NS" -4 -o addr show dev "$br" | grep -q " inet $SL_API_IP/"; then
		ip -n "$SL_API_NS" addr add "$SL_API_IP/$SL_API_PREFIX" dev "$br" || return 1
	fi
	ip -n "$SL_API_NS" link set "$br" up
}

# apiserver_certs: a throwaway CA and a server certificate for SL_API_IP.
apiserver_certs() {
	local d=$SL_API_DIR ext
	ext="subjectAltName=IP:$SL_API_IP,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=sluice-test-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>"$d/openssl.log" ||
		! openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj /CN=kube-apiserver -keyout "$d/server.key" -out "$d/server.csr" 2>>"$d/openssl.log" ||
		! openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -out "$d/server.crt" -extfile <(printf '%s\n' "$ext") 2>>"$d/openssl.log"; then
		cat "$d/openssl.log" >&2
		api_die "openssl failed"
		return 1
	fi
	chmod 600 "$d/ca.key" "$d/server.key"
}

# apiserver_kubeconfig FILE [TOKEN]: a kubeconfig (YAML) for the stand-in.
apiserver_kubeconfig() {
	local token=${2:-$(apiserver_token)}
	cat >"$1.tmp" <<EOF && chmod 600 "$1.tmp" && mv "$1.tmp" "$1"
apiVersion: v1
kind: Config
clusters:
- name: sluice
  cluster:
    server: $SL_API_URL
    certificate-authority: $SL_API_CA
users:
- name: sluice
  user:
    token: $token
contexts:
- name: sluice
  context:
    cluster: sluice
    user: sluice
    namespace: default
current-context: sluice
EOF
}

# apiserver_start FABRIC_NS SCRATCH [server args...]: the stand-in, ready.
apiserver_start() {
	local ns=$1 scratch=$2 i
	shift 2 || { api_die "usage: apiserver_start FABRIC_NS SCRATCH [args]"; return 1; }
	[ -e "/run/netns/$ns" ] || api_die "no network namespace $ns" || return 1
	apiserver_vars "$ns" "$scratch"
	mkdir -p "$SL_API_DIR" || return 1
	if apiserver_running; then
		api_die "a stand-in already runs for $scratch (pid $(apiserver_pid))"
		return 1
	fi
	printf '%s\n' "$ns" >"$SL_API_DIR/ns"
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$SL_API_TOKEN_FILE" && chmod 600 "$SL_API_TOKEN_FILE" || return 1
	apiserver_bridge_addr || return 1
	apiserver_certs || return 1
	rm -f "$SL_API_DIR/stdout" "$SL_API_DIR/rc"
	nsenter --net="/run/netns/$ns" /usr/bin/python3 "$SL_REPO/e2e/apiserver/server.py" \
		--listen "$SL_API_IP:$SL_API_PORT" --cert "$SL_API_DIR/server.crt" --key "$SL_API_DIR/server.key" \
		--token-file "$SL_API_TOKEN_FILE" --log "$SL_API_LOG" "$@" \
		>"$SL_API_DIR/stdout" 2>"$SL_API_DIR/stderr" </dev/null 3>&- &
	echo $! >"$SL_API_DIR/pid"
	for ((i = 0; i < SL_API_READY_SECS * 10; i++)); do
		[ "$(head -n 1 "$SL_API_DIR/stdout" 2>/dev/null)" = ready ] && break
		apiserver_running || break
		sleep 0.1
	done
	if [ "$(head -n 1 "$SL_API_DIR/stdout" 2>/dev/null)" != ready ]; then
		cat "$SL_API_DIR/stderr" >&2
		apiserver_stop "$scratch"
		api_die "the stand-in did not become ready in $SL_API_READY_SECS s"
		return 1
	fi
	apiserver_kubeconfig "$SL_KUBECONFIG"
}

# apiserver_stop [SCRATCH]: stops the stand-in (state from SCRATCH if given).
apiserver_stop() {
	[ -z "${1:-}" ] || apiserver_load "$1" || return 0
	local pid i
	pid=$(apiserver_pid) || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$SL_API_DIR/pid"
	return 0
}

# kube ARGS...: Debian's kubectl 1.20 in the fabric namespace, own cache dir.
kube() {
	nsenter --net="/run/netns/$SL_API_NS" "$SL_KUBECTL" --kubeconfig "$SL_KUBECONFIG" \
		--cache-dir "$SL_API_DIR/kube-cache" "$@"
}

# apiserver_curl METHOD PATH [BODY [CONTENT-TYPE]]: an authenticated request;
# prints the body, fails on HTTP >= 400 (after printing the body).
apiserver_curl() {
	local method=$1 path=$2 body=${3:-} ctype=${4:-application/json}
	local args=(-sS --max-time 30 --fail-with-body --cacert "$SL_API_CA" -X "$method"
		-H "Authorization: Bearer $(apiserver_token)")
	[ -z "$body" ] || args+=(-H "Content-Type: $ctype" --data-binary "$body")
	nsenter --net="/run/netns/$SL_API_NS" curl "${args[@]}" "$SL_API_URL$path"
}

# apiserver_fault JSON: e.g. '{"dropWatches":true}', '{"status429":{"count":3,"retryAfter":1}}'.
apiserver_fault() { apiserver_curl POST /_sluice/faults "$1"; }

# apiserver_stats: the stand-in's counters as JSON.
apiserver_stats() { apiserver_curl GET /_sluice/stats; }

# apiserver_objects JSON_FILE: stores objects as given, unvalidated (malformed-object tests).
apiserver_objects() { apiserver_curl POST /_sluice/objects "@$1"; }
