# SPDX-License-Identifier: Apache-2.0
# The TPROXY rows of `make bench`: iptables TPROXY in the mangle table hands
# Service traffic to a user-space L4 proxy in the node's netns, which connects
# to the backend from the client pod's own address. Two modules, tp_haproxy
# (HAProxy, mode tcp) and tp_nginx (nginx stream), with the datapath module
# interface of the bench (probe, program, add, change, remove, clear) plus
# tp_<p>_pids NS and tp_<p>_rss_kb NS for the report's memory column.
#
# In the node netns NS, for proxy port PORT and mark M (one chain, mark and
# routing table per module, so the two could even share a netns):
#   mangle PREROUTING -p tcp -j TP-<P>
#   TP-<P>      -p tcp -m socket --transparent ! --syn -j TP-<P>-DIV
#               -d VIP/32 -p tcp --dport VPORT -j TPROXY --on-port PORT --tproxy-mark M/M
#               ... one TPROXY rule per Service
#   TP-<P>-DIV  -j MARK --set-xmark M/M, -j ACCEPT
#   ip rule fwmark M/M lookup T;  ip route local 0.0.0.0/0 dev lo table T
# The socket rule carries every later packet of a proxied connection to the
# proxy's socket: client -> VIP after the SYN, and the backend's answers,
# addressed to the client pod's IP, to the proxy's transparent outgoing
# socket. It must never match a SYN: a new connection would then go to
# whatever socket the lookup finds and bypass the proxy's listener, e.g. the
# proxy's old connection from the same client port still in TIME_WAIT here
# (challenge ACK, RST, the SYN sent again), which the TPROXY target instead
# hands to the listener. The policy route makes marked packets local, so they
# are delivered instead of forwarded.
#
# The proxy listens on 0.0.0.0:PORT with IP_TRANSPARENT (HAProxy: bind ...
# transparent; nginx cannot, see e2e/bench/tproxy/transparent-exec.py). The
# accepted socket's local address is the VIP:port (TPROXY leaves the packet
# as it is), which selects the backend; several backends are used round
# robin. Toward the backend the proxy binds the client's address (HAProxy
# "source 0.0.0.0 usesrc clientip", nginx "proxy_bind $remote_addr
# transparent"), so the backend sees the client pod, as with kube-proxy.
#
# Fillers are written like any other Service (one TPROXY rule, one backend
# and one routing entry each): cheap to generate, and it keeps the module
# honest about what a Service costs here. Both the rule list and HAProxy's
# use_backend list are walked linearly per new connection, so this design
# does not scale with Services; the driver runs these rows at N=1 only.
#
# Timed step (program/add/change/remove, ms on stdout): the iptables change
# (iptables-restore, or one iptables -A/-D), the ip rule/route on the first
# program, and the proxy's start or graceful reload until it serves the new
# configuration:
#   HAProxy  haproxy -D -sf OLD: returns once the new process has bound its
#            listener and told the old one to stop accepting (the old one
#            finishes its connections, at most hard-stop-after).
#   nginx    start: from the exec of nginx (the launcher's stamp; python's
#            own start is left out) until its worker runs. Reload: SIGHUP to
#            the master (what `nginx -s reload` sends) until a new worker runs
#            and every old one is shutting down; that includes the master's
#            fixed 100 ms pause between the two. Config generation and
#            `nginx -t` come before, untimed.
# Everything runs with nsenter --net (ip netns exec would remount /sys).
# State (config, services, pid files, logs) in $BN_SCRATCH/tp_<p>/<NS>/; its
# times.log splits each timed step into rules and proxy (µs).

# shellcheck shell=bash

TP_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TP_CONF_DIR=$(cd "$TP_HERE/../tproxy" && pwd)
TP_IPTABLES=${TP_IPTABLES:-iptables}
TP_HAPROXY_BIN=${TP_HAPROXY_BIN:-/usr/sbin/haproxy}
TP_NGINX_BIN=${TP_NGINX_BIN:-/usr/sbin/nginx}
TP_NGINX_STREAM=${TP_NGINX_STREAM:-/usr/lib/nginx/modules/ngx_stream_module.so}
TP_PYTHON=${TP_PYTHON:-/usr/bin/python3}

# Per proxy: listening port, fwmark (bit), routing table, chain.
declare -gA TP_PORT=([haproxy]=15001 [nginx]=15002)
declare -gA TP_MARK=([haproxy]=0x400 [nginx]=0x800)
declare -gA TP_TABLE=([haproxy]=104 [nginx]=108)
declare -gA TP_CHAIN=([haproxy]=TP-HAPROXY [nginx]=TP-NGINX)

# --- small helpers ---------------------------------------------------------------------

tp_err() {
	printf 'tproxy: %s\n' "$*" >&2
	return 1
}

_tp_dir() { echo "${BN_SCRATCH:?BN_SCRATCH is not set}/tp_$1/$2"; }
_tp_ns() { nsenter --net="/run/netns/$1" "${@:2}"; }
_tp_ms() { printf '%d.%03d\n' $(($1 / 1000)) $(($1 % 1000)); }

# Inside timed steps nothing forks but the commands timed: times are
# ${EPOCHREALTIME/./} (µs), waits are read -t on a FIFO (_tp_nap), never
# $(...) or sleep(1), each a fork, several ms on a loaded machine.

# _tp_expired DEADLINE_US
_tp_expired() { [ "${EPOCHREALTIME/./}" -ge "$1" ]; }

# _tp_deadline: now plus the budget (BN_BUDGET_S seconds, default 120, a
# fraction allowed), in µs.
_tp_deadline() {
	local b=${BN_BUDGET_S:-120} f
	[[ $b =~ ^[0-9]+(\.[0-9]*)?$ ]] || b=120
	f=${b#*.}
	[ "$f" != "$b" ] || f=
	f=${f}000000
	echo $((${EPOCHREALTIME/./} + 10#${b%%.*} * 1000000 + 10#${f:0:6}))
}

# _tp_run DEADLINE_US CMD...: CMD under timeout(1) with the budget left; 124
# when it is spent.
_tp_run() {
	local left=$(($1 - ${EPOCHREALTIME/./})) rem
	[ "$left" -gt 0 ] || return 124
	printf -v rem '%d.%06d' $((left / 1000000)) $((left % 1000000))
	timeout "$rem" "${@:2}"
}

# _tp_nap_open DIR / _tp_nap / _tp_nap_close: 1 ms waits without a fork, a
# read with timeout on a FIFO nobody writes (TP_NAP_FD).
_tp_nap_open() {
	[ -p "$1/nap" ] || mkfifo "$1/nap" || return 1
	exec {TP_NAP_FD}<>"$1/nap"
}
_tp_nap() { read -r -t 0.001 -u "$TP_NAP_FD" _ || true; }
_tp_nap_close() { exec {TP_NAP_FD}>&-; }

# _tp_alive PID: a live process (a zombie is not: this machine's init does
# not reap the daemons' orphans).
_tp_alive() {
	local st
	[ -n "$1" ] && { read -r st </proc/"$1"/stat; } 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# _tp_closefds: closes every descriptor above 2 of the current (sub)shell, so
# a daemon started from it holds none of its caller's pipes (bats waits for
# those).
_tp_closefds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		[ "$fd" -le 2 ] || eval "exec $fd>&-" 2>/dev/null
	done
	return 0
}

# _tp_kids PID: TP_KIDS = the pids of PID's children (no fork).
_tp_kids() {
	TP_KIDS=()
	{ read -r -a TP_KIDS </proc/"$1"/task/"$1"/children; } 2>/dev/null || true
}

# _tp_children PID: the pids of PID's children, one a line.
_tp_children() {
	_tp_kids "$1"
	[ "${#TP_KIDS[@]}" -eq 0 ] || printf '%s\n' "${TP_KIDS[@]}"
}

# _tp_procs_with EXE STRING: live processes running EXE whose command line
# contains STRING (a path under our state dir).
_tp_procs_with() {
	local f pid
	while IFS= read -r f; do
		pid=${f#/proc/} pid=${pid%/cmdline}
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$1" ] && _tp_alive "$pid" && echo "$pid"
	done < <(grep -laF -- "$2" /proc/[0-9]*/cmdline 2>/dev/null)
	return 0
}

# _tp_spec_check SPEC: VIP:PORT=BIP:BPORT[,BIP:BPORT...]
_tp_spec_check() {
	local ep='[0-9]+(\.[0-9]+){3}:[0-9]+'
	[[ $1 =~ ^$ep=$ep(,$ep)*$ ]] || tp_err "bad Service spec '$1' (want VIP:PORT=BIP:BPORT[,...])"
}

# _tp_fillers FROM TO: filler Services FROM..TO-1 (the bench's filler scheme).
_tp_fillers() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		for (i = a; i < b; i++) {
			x = int(i / 256) % 256; y = i % 256
			printf "10.%d.%d.%d:80=10.246.%d.%d:8080,10.247.%d.%d:8080\n",
				100 + int(i / 65536), x, y, x, y, x, y
		}
	}'
}

# _tp_rule P KEY: TP_RULE = the TPROXY rule (without -A/-D CHAIN) for
# VIP:PORT KEY.
_tp_rule() {
	local m=${TP_MARK[$1]}
	TP_RULE="-d ${2%:*}/32 -p tcp -m tcp --dport ${2##*:} -j TPROXY --on-port ${TP_PORT[$1]} --on-ip 0.0.0.0 --tproxy-mark $m/$m"
}

# _tp_rules P DIR JUMP: the iptables-restore input for the whole set; JUMP
# non-empty adds the PREROUTING jump.
_tp_rules() {
	local p=$1 c=${TP_CHAIN[$1]} m=${TP_MARK[$1]} spec
	printf '*mangle\n:%s - [0:0]\n:%s-DIV - [0:0]\n' "$c" "$c"
	[ -z "$3" ] || printf -- '-A PREROUTING -p tcp -j %s\n' "$c"
	printf -- '-A %s-DIV -j MARK --set-xmark %s/%s\n-A %s-DIV -j ACCEPT\n' "$c" "$m" "$m" "$c"
	printf -- '-A %s -p tcp -m socket --transparent ! --syn -j %s-DIV\n' "$c" "$c"
	while IFS= read -r spec; do
		_tp_rule "$p" "${spec%%=*}"
		printf -- '-A %s %s\n' "$c" "$TP_RULE"
	done <"$2/services"
	echo COMMIT
}


# --- HAProxy ----------------------------------------------------------------------------

_tp_haproxy_conf() {
	local dir=$1 spec key bes be i
	{
		sed "s|@DIR@|$dir|g; s|@PORT@|${TP_PORT[haproxy]}|g" "$TP_CONF_DIR/haproxy.cfg.in" || return 1
		while IFS= read -r spec; do
			key=${spec%%=*}
			printf '\tuse_backend %s if { dst %s } { dst_port %s }\n' "s_${key//:/_}" "${key%:*}" "${key##*:}"
		done <"$dir/services"
		while IFS= read -r spec; do
			key=${spec%%=*} bes=${spec#*=} i=0
			printf '\nbackend %s\n\tbalance roundrobin\n\tsource 0.0.0.0 usesrc clientip\n' "s_${key//:/_}"
			for be in ${bes//,/ }; do
				printf '\tserver e%d %s\n' "$i" "$be"
				i=$((i + 1))
			done
		done <"$dir/services"
	} >"$dir/haproxy.cfg.new" && mv "$dir/haproxy.cfg.new" "$dir/haproxy.cfg"
}

# _tp_haproxy_pids DIR: every live haproxy of this config (after reloads also
# old ones still finishing their connections).
_tp_haproxy_pids() { _tp_procs_with "$TP_HAPROXY_BIN" "$1/haproxy.cfg"; }

# _tp_haproxy_up NS DIR DEADLINE: starts HAProxy, or reloads it (-sf) when it
# runs; TP_US = the microseconds it took.
_tp_haproxy_up() {
	local ns=$1 dir=$2 dl=$3 sf=() p t0 left rc=0
	while read -r p; do
		_tp_alive "$p" && sf+=("$p")
	done < <(cat "$dir/haproxy.pid" 2>/dev/null)
	[ "${#sf[@]}" -eq 0 ] || sf=(-sf "${sf[@]}")
	t0=${EPOCHREALTIME/./}
	left=$((dl - t0))
	[ "$left" -gt 0 ] || return 124
	printf -v left '%d.%06d' $((left / 1000000)) $((left % 1000000))
	(
		_tp_closefds
		exec timeout "$left" nsenter --net="/run/netns/$ns" "$TP_HAPROXY_BIN" -D -f "$dir/haproxy.cfg" \
			-p "$dir/haproxy.pid" "${sf[@]}"
	) </dev/null >>"$dir/proxy.log" 2>&1 || rc=$?
	TP_US=$((${EPOCHREALTIME/./} - t0))
	[ "$rc" -ne 124 ] || return 124
	[ "$rc" -eq 0 ] || tp_err "haproxy did not start in $ns: $(tail -n 3 "$dir/proxy.log")"
}

# --- nginx --------------------------------------------------------------------------------

_tp_nginx_conf() {
	local dir=$1 spec key bes be n
	n=$(wc -l <"$dir/services")
	sed "s|@DIR@|$dir|g; s|@PORT@|${TP_PORT[nginx]}|g; s|@STREAM_MODULE@|$TP_NGINX_STREAM|g
		s|@MAP_SIZE@|$((n * 2 > 2048 ? n * 2 : 2048))|g" "$TP_CONF_DIR/nginx.conf.in" >"$dir/nginx.conf" || return 1
	{
		# shellcheck disable=SC2016 # nginx variables
		printf 'map $server_addr:$server_port $tp_upstream {\n'
		while IFS= read -r spec; do
			key=${spec%%=*}
			printf '\t%s %s;\n' "$key" "s_${key//:/_}"
		done <"$dir/services"
		printf '}\n'
		while IFS= read -r spec; do
			key=${spec%%=*} bes=${spec#*=}
			printf 'upstream %s {\n' "s_${key//:/_}"
			for be in ${bes//,/ }; do
				printf '\tserver %s;\n' "$be"
			done
			printf '}\n'
		done <"$dir/services"
	} >"$dir/services.conf.new" && mv "$dir/services.conf.new" "$dir/services.conf" || return 1
	# Untimed, as an operator checks before a reload: a bad file would
	# otherwise only show as a reload that never completes.
	"$TP_NGINX_BIN" -q -t -c "$dir/nginx.conf" 2>>"$dir/proxy.log" ||
		tp_err "nginx rejects $dir/nginx.conf: $(tail -n 3 "$dir/proxy.log")"
}

# _tp_nginx_master DIR: the live nginx master of this config.
_tp_nginx_master() { _tp_procs_with "$TP_NGINX_BIN" "$1/nginx.conf" | head -n 1; }

_tp_nginx_pids() {
	local m
	for m in $(_tp_procs_with "$TP_NGINX_BIN" "$1/nginx.conf"); do
		echo "$m"
		_tp_children "$m"
	done
}

# _tp_nginx_serving MASTER OLD...: a worker not in OLD runs and no worker in
# OLD still accepts (each is gone or "shutting down"). No fork.
_tp_nginx_serving() {
	local m=$1 c o t new=0
	shift
	_tp_kids "$m"
	for c in "${TP_KIDS[@]}"; do
		for o in "$@"; do [ "$c" != "$o" ] || continue 2; done
		new=1
	done
	[ "$new" = 1 ] || return 1
	for o in "$@"; do
		t=
		{ IFS= read -r -d '' t </proc/"$o"/cmdline; } 2>/dev/null
		case $t in *"shutting down"* | "") ;; *) _tp_alive "$o" && return 1 ;; esac
	done
	return 0
}

# _tp_nginx_up NS DIR DEADLINE: starts nginx (through transparent-exec.py,
# timed from nginx's exec), or reloads it (SIGHUP); TP_US = the microseconds.
_tp_nginx_up() {
	local ns=$1 dir=$2 dl=$3 m old t0 pid stamp rc=0
	m=$(_tp_nginx_master "$dir")
	if [ -z "$m" ]; then
		rm -f "$dir/exec.stamp"
		nsenter --net="/run/netns/$ns" "$TP_PYTHON" -I -S "$TP_CONF_DIR/transparent-exec.py" "${TP_PORT[nginx]}" \
			"$dir/exec.stamp" "$TP_NGINX_BIN" -c "$dir/nginx.conf" </dev/null >>"$dir/proxy.log" 2>&1 3>&- &
		pid=$!
	fi
	_tp_nap_open "$dir" || return 1
	if [ -n "$m" ]; then
		_tp_kids "$m"
		old=("${TP_KIDS[@]}")
		t0=${EPOCHREALTIME/./}
		kill -HUP "$m" || rc=1
		until [ "$rc" -ne 0 ] || _tp_nginx_serving "$m" "${old[@]}"; do
			_tp_expired "$dl" && rc=124 && break
			_tp_alive "$m" || rc=2
			_tp_nap
		done
		TP_US=$((${EPOCHREALTIME/./} - t0))
	else
		# The master's first child is its worker.
		until _tp_kids "$pid" && [ "${#TP_KIDS[@]}" -gt 0 ]; do
			_tp_expired "$dl" && rc=124 && break
			_tp_alive "$pid" || { rc=2 && break; }
			_tp_nap
		done
		{ read -r stamp <"$dir/exec.stamp"; } 2>/dev/null || [ "$rc" -ne 0 ] || rc=2
		[ "$rc" -ne 0 ] || TP_US=$((${EPOCHREALTIME/./} - stamp))
	fi
	_tp_nap_close
	[ "$rc" -ne 2 ] || tp_err "nginx did not start or reload in $ns: $(tail -n 3 "$dir/proxy.log" "$dir/error.log" 2>&1)" || return 1
	return "$rc"
}

# --- the module interface, shared by both proxies ----------------------------------------

_tp_probe() {
	local p=$1 bin
	[ "$p" = haproxy ] && bin=$TP_HAPROXY_BIN || bin=$TP_NGINX_BIN
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 1; }
	[ -x "$bin" ] || { echo "$bin is missing"; return 1; }
	if [ "$p" = haproxy ]; then
		"$bin" -vv 2>/dev/null | grep -q '+LINUX_TPROXY' || { echo "haproxy built without LINUX_TPROXY"; return 1; }
	else
		[ -f "$TP_NGINX_STREAM" ] || { echo "nginx stream module $TP_NGINX_STREAM is missing"; return 1; }
		[ -x "$TP_PYTHON" ] || { echo "$TP_PYTHON is missing"; return 1; }
	fi
	command -v "$TP_IPTABLES" >/dev/null || { echo "$TP_IPTABLES is missing"; return 1; }
	# The kernel side, in a throwaway netns that vanishes with the command.
	unshare --net sh -c "$TP_IPTABLES -t mangle -A PREROUTING -p tcp -m socket --transparent ! --syn -j MARK --set-mark 1 &&
		$TP_IPTABLES -t mangle -A PREROUTING -p tcp -j TPROXY --on-port 1 --tproxy-mark 1" >/dev/null 2>&1 ||
		{ echo "kernel/iptables without TPROXY or the socket match"; return 1; }
}

# _tp_apply P NS DIR OP [RULESCMD...]: the timed step of OP: RULESCMD in NS
# (its stdin is DIR/rules), the policy routing when missing, the proxy's
# start or reload. Prints the ms; DIR/times.log gets "OP RULES_US PROXY_US".
_tp_apply() {
	local p=$1 ns=$2 dir=$3 op=$4 dl t0 us rc=0 m=${TP_MARK[$1]} t=${TP_TABLE[$1]} rule=
	shift 4
	dl=$(_tp_deadline)
	_tp_ns "$ns" ip rule show | grep -q "fwmark $m/$m lookup $t" || rule=1
	t0=${EPOCHREALTIME/./}
	[ "$#" -eq 0 ] || _tp_run "$dl" nsenter --net="/run/netns/$ns" "$@" <"$dir/rules" || rc=$?
	if [ "$rc" -eq 0 ] && [ -n "$rule" ]; then
		_tp_run "$dl" ip -n "$ns" rule add fwmark "$m/$m" lookup "$t" &&
			_tp_run "$dl" ip -n "$ns" route replace local 0.0.0.0/0 dev lo table "$t" || rc=$?
	fi
	us=$((${EPOCHREALTIME/./} - t0))
	[ "$rc" -ne 124 ] || return 124
	[ "$rc" -eq 0 ] || tp_err "could not program $p's rules in $ns: $* failed ($rc)" || return 1
	TP_US=0
	"_tp_${p}_up" "$ns" "$dir" "$dl" || return
	echo "$op $us $TP_US" >>"$dir/times.log"
	_tp_ms $((us + TP_US))
}

# _tp_regen P DIR: the proxy's configuration from DIR/services.
_tp_regen() { "_tp_${1}_conf" "$2"; }

_tp_program() {
	local p=$1 ns=$2 n=$3 dir spec jump=
	shift 3
	[[ $n =~ ^[0-9]+$ ]] || tp_err "bad filler count '$n'" || return 1
	for spec in "$@"; do _tp_spec_check "$spec" || return 1; done
	dir=$(_tp_dir "$p" "$ns")
	mkdir -p "$dir" || return 1
	{
		_tp_fillers 0 $((n / 2))
		printf '%s\n' "$@"
		_tp_fillers $((n / 2)) "$n"
	} >"$dir/services" || return 1
	_tp_ns "$ns" "$TP_IPTABLES" -t mangle -C PREROUTING -p tcp -j "${TP_CHAIN[$p]}" 2>/dev/null || jump=1
	_tp_rules "$p" "$dir" "$jump" >"$dir/rules" && _tp_regen "$p" "$dir" || return 1
	_tp_apply "$p" "$ns" "$dir" full "${TP_IPTABLES}-restore" --noflush
}

# _tp_has DIR KEY: Service KEY (VIP:PORT) is installed.
_tp_has() { grep -q "^${2//./\\.}=" "$1/services" 2>/dev/null; }

_tp_add() {
	local p=$1 ns=$2 spec=$3 dir key
	_tp_spec_check "$spec" || return 1
	dir=$(_tp_dir "$p" "$ns") key=${spec%%=*}
	[ -s "$dir/services" ] || tp_err "$p: nothing programmed in $ns" || return 1
	! _tp_has "$dir" "$key" || tp_err "$p: Service $key already in $ns" || return 1
	echo "$spec" >>"$dir/services" && _tp_regen "$p" "$dir" && : >"$dir/rules" || return 1
	_tp_rule "$p" "$key"
	# shellcheck disable=SC2086 # the rule's words
	_tp_apply "$p" "$ns" "$dir" add "$TP_IPTABLES" -t mangle -A "${TP_CHAIN[$p]}" $TP_RULE
}

_tp_change() {
	local p=$1 ns=$2 spec=$3 dir key
	_tp_spec_check "$spec" || return 1
	dir=$(_tp_dir "$p" "$ns") key=${spec%%=*}
	_tp_has "$dir" "$key" || tp_err "$p: no Service $key in $ns" || return 1
	awk -v k="$key" -v s="$spec" -F= '{ print ($1 == k ? s : $0) }' "$dir/services" >"$dir/services.new" &&
		mv "$dir/services.new" "$dir/services" && _tp_regen "$p" "$dir" && : >"$dir/rules" || return 1
	# No rule changes: only the proxy learns the new endpoints.
	_tp_apply "$p" "$ns" "$dir" change
}

_tp_remove() {
	local p=$1 ns=$2 key=$3 dir
	dir=$(_tp_dir "$p" "$ns")
	_tp_has "$dir" "$key" || tp_err "$p: no Service $key in $ns" || return 1
	awk -v k="$key" -F= '$1 != k' "$dir/services" >"$dir/services.new" &&
		mv "$dir/services.new" "$dir/services" && _tp_regen "$p" "$dir" && : >"$dir/rules" || return 1
	_tp_rule "$p" "$key"
	# shellcheck disable=SC2086 # the rule's words
	_tp_apply "$p" "$ns" "$dir" remove "$TP_IPTABLES" -t mangle -D "${TP_CHAIN[$p]}" $TP_RULE
}

_tp_pids() { "_tp_${1}_pids" "$(_tp_dir "$1" "$2")"; }

_tp_rss_kb() {
	local pid v sum=0
	for pid in $(_tp_pids "$1" "$2"); do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# _tp_clear P NS: the proxy's processes, the rules, the policy routing, the
# state. Idempotent; also after a failed or budget-cut setup.
_tp_clear() {
	local p=$1 ns=$2 dir pids pid i c=${TP_CHAIN[$1]} m=${TP_MARK[$1]} t=${TP_TABLE[$1]}
	dir=$(_tp_dir "$p" "$ns")
	pids=$(_tp_pids "$p" "$ns")
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			pids=$(for pid in $pids; do ! _tp_alive "$pid" || echo "$pid"; done)
			[ -n "$pids" ] || break
			sleep 0.1
		done
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	fi
	if [ -e "/run/netns/$ns" ]; then
		for ((i = 0; i < 10; i++)); do
			_tp_ns "$ns" "$TP_IPTABLES" -t mangle -D PREROUTING -p tcp -j "$c" 2>/dev/null || break
		done
		for i in "$c" "$c-DIV"; do
			_tp_ns "$ns" "$TP_IPTABLES" -t mangle -F "$i" 2>/dev/null || true
		done
		for i in "$c" "$c-DIV"; do
			_tp_ns "$ns" "$TP_IPTABLES" -t mangle -X "$i" 2>/dev/null || true
		done
		for ((i = 0; i < 10; i++)); do
			ip -n "$ns" rule del fwmark "$m/$m" lookup "$t" 2>/dev/null || break
		done
		ip -n "$ns" route flush table "$t" 2>/dev/null || true
	fi
	case $dir in /?*/tp_"$p"/?*) rm -rf "$dir" ;; esac
	return 0
}

# --- the two modules ------------------------------------------------------------------------

tp_haproxy_probe() { _tp_probe haproxy; }
tp_haproxy_program() { _tp_program haproxy "$@"; }
tp_haproxy_add() { _tp_add haproxy "$@"; }
tp_haproxy_change() { _tp_change haproxy "$@"; }
tp_haproxy_remove() { _tp_remove haproxy "$@"; }
tp_haproxy_clear() { _tp_clear haproxy "$@"; }
tp_haproxy_pids() { _tp_pids haproxy "$@"; }
tp_haproxy_rss_kb() { _tp_rss_kb haproxy "$@"; }

tp_nginx_probe() { _tp_probe nginx; }
tp_nginx_program() { _tp_program nginx "$@"; }
tp_nginx_add() { _tp_add nginx "$@"; }
tp_nginx_change() { _tp_change nginx "$@"; }
tp_nginx_remove() { _tp_remove nginx "$@"; }
tp_nginx_clear() { _tp_clear nginx "$@"; }
tp_nginx_pids() { _tp_pids nginx "$@"; }
tp_nginx_rss_kb() { _tp_rss_kb nginx "$@"; }
