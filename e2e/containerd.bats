#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# containerd's CRI plugin as the node's runtime, driven by crictl as the
# kubelet would: pod sandboxes wired by the sluice plugin through libcni, pod
# to pod traffic, StopPodSandbox/RemovePodSandbox releasing everything, and
# 50 pods created and deleted with nothing left. containerd runs in the node's
# network namespace and a private mount namespace (e2e/lib/containerd.bash).

load lib/node
load lib/containerd

# What the suite could change on the machine itself, to compare after it.
machine_snapshot() {
	echo "netns-cni: $(find /run/netns -maxdepth 1 -name 'cni-*' 2>/dev/null | sort | tr '\n' ' ')"
	echo "var-lib-cni: $(find /var/lib/cni -maxdepth 3 2>/dev/null | sort | md5sum)"
	echo "mounts: $(awk '$2 ~ /^\/run\/containerd|^\/var\/lib\/cni|^\/run\/netns\/cni-|^\/var\/lib\/containerd/' /proc/mounts | sort | tr '\n' ' ')"
	echo "sysctls: $(sysctl -n kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward | tr '\n' ' ')"
}

setup_file() {
	export MACHINE_BEFORE
	MACHINE_BEFORE=$(machine_snapshot)
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	node_state_save "$BATS_FILE_TMPDIR/node.state"
	ctrd_vars
	# A missing runtime piece is a missing dependency (make deps), not a skip.
	local problem
	problem=$(ctrd_env_problem)
	[ -z "$problem" ] || { echo "$problem" >&2; return 1; }
	export SL_CRICTL SL_IMAGES SL_PAUSE_REF SL_BUSYBOX_REF
	SL_CRICTL=$("$SL_REPO/e2e/k8s/build.sh" crictl | awk '{ print $2 }') || return 1
	SL_IMAGES=$("$SL_REPO/e2e/images/build.sh") || return 1
	SL_PAUSE_REF=$(awk '$1 == "pause" { print $2 }' <<<"$SL_IMAGES")
	SL_BUSYBOX_REF=$(awk '$1 == "busybox" { print $2 }' <<<"$SL_IMAGES")
	# The node's CNI bin dir filled as a DaemonSet's init container would.
	"$SL_BUILD/sluice-agent" install-cni --from "$SL_BUILD" --to "$SL_CNI_BIN" >/dev/null || return 1
	agent_start || return 1
	ctrd_start || return 1
	ctrd_images_import || return 1
	export BASE
	BASE=$(node_snapshot)
}

teardown_file() {
	node_state_load "$BATS_FILE_TMPDIR/node.state" 2>/dev/null || return 0
	ctrd_vars
	ctrd_teardown
	node_teardown
	# Nothing of this node may outlive the suite.
	local left=""
	left+=$(ip netns list | awk '{ print $1 }' | grep -E -- "-$SL_RND(-|$)" | tr '\n' ' ')
	[ ! -e "$SL_PIN" ] || left+=" $SL_PIN"
	left+=$(find /sys/fs/cgroup -maxdepth 3 -type d \( -name "$SL_CTRD_CGROUP" -o -name "sluice-$SL_RND" \) 2>/dev/null | tr '\n' ' ')
	left+=$(awk -v r="$SL_RND" 'index($0, r)' /proc/mounts | tr '\n' ' ')
	[ -z "${left// /}" ] || { echo "left behind: $left" >&2; return 1; }
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] && return 0
	node_diag
	echo "--- containerd log (tail)" >&2
	tail -n 20 "$SL_CTRD_LOG" >&2 2>/dev/null
	# The next test starts from a node without pods.
	local p
	for p in $(sl_crictl pods -q 2>/dev/null); do cri_rmp "$p" 2>/dev/null; done
}

# pod_netns ID: the sandbox's network namespace path (in containerd's mount namespace).
pod_netns() {
	sl_crictl inspectp "$1" |
		jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path'
}

# host_veth_of ID: the host veth the plugin recorded for sandbox ID.
host_veth_of() { jq -r .hostVeth "$(state_files | grep -F -- "/$1-")"; }

@test "(agent) install-cni puts sluice, loopback and host-local into the node's CNI bin dir" {
	local b
	for b in sluice loopback host-local; do
		[ -f "$SL_CNI_BIN/$b" ] && [ ! -L "$SL_CNI_BIN/$b" ]
		[ "$(stat -c %a "$SL_CNI_BIN/$b")" = 755 ]
	done
	cmp "$SL_BUILD/sluice" "$SL_CNI_BIN/sluice"
	cmp /usr/lib/cni/loopback "$SL_CNI_BIN/loopback"
	cmp /usr/lib/cni/host-local "$SL_CNI_BIN/host-local"
	[ -z "$(find "$SL_CNI_BIN" -name '.*')" ]
}

@test "(containerd) runp wires a pod sandbox through sluice" {
	local id ip ns veth
	id=$(cri_runp wired)
	ip=$(cri_pod_ip "$id")
	echo "sandbox $id ip $ip"
	[[ $ip == 10.244.0.* ]]
	ep_has "$ip"
	veth=$(host_veth_of "$id")
	ip -n "$SL_NODE" link show dev "$veth" | grep -q 'state UP'
	ns=$(pod_netns "$id")
	[[ $ns == /var/run/netns/cni-* ]]
	run ctrd_exec nsenter --net="$ns" ip -o -4 addr show dev eth0
	[[ $output == *"inet $ip/32"* ]]
	run ctrd_exec nsenter --net="$ns" ip -4 route show default
	[[ $output == "default via $SL_GATEWAY dev eth0"* ]]
	# loopback (from the bin dir) ran too: lo is up.
	run ctrd_exec nsenter --net="$ns" ip -o link show dev lo
	[[ $output == *"UP"* ]]
	# libcni cached the result under the sandbox id.
	cni_cache_files | grep -qF -- "$id"
	cri_rmp "$id"
}

@test "(containerd) a container in one pod reaches a container in another with its own address" {
	local a b ip_a ip_b out
	a=$(cri_runp web)
	b=$(cri_runp client)
	ip_a=$(cri_pod_ip "$a")
	ip_b=$(cri_pod_ip "$b")
	[ "$ip_a" != "$ip_b" ]
	cri_run "$a" httpd httpd -f -p "$SL_HTTP_PORT" -h /www >/dev/null
	c=$(cri_run "$b" sleeper sleep 300)
	wait_for 10 sl_crictl exec "$c" timeout 5 wget -qO- "http://$ip_a:$SL_HTTP_PORT/index.html"
	run sl_crictl exec "$c" timeout 5 wget -qO- "http://$ip_a:$SL_HTTP_PORT/index.html"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from busybox" ]
	# The server sees the client pod's own IP: no NAT between pods.
	out=$(sl_crictl exec "$c" timeout 5 wget -qO- "http://$ip_a:$SL_HTTP_PORT/cgi-bin/ip")
	[ "$out" = "$ip_b" ]
	cri_rmp "$a"
	cri_rmp "$b"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(containerd) a sandbox's port_mappings are published through the datapath (CRI hostPort)" {
	local a b c out f
	f=$SL_CTRD_DIR/pod-pub.json
	pod_config pub | jq -c '. + {port_mappings: [{container_port: '"$SL_HTTP_PORT"', host_port: 18091}]}' >"$f"
	a=$(sl_crictl runp "$f")
	b=$(cri_runp pubclient)
	cri_run "$a" httpd httpd -f -p "$SL_HTTP_PORT" -h /www >/dev/null
	c=$(cri_run "$b" sleeper sleep 300)
	wait_for 10 sl_crictl exec "$c" timeout 5 wget -qO- "http://$SL_NODE_IP:18091/index.html"
	out=$(sl_crictl exec "$c" timeout 5 wget -qO- "http://$SL_NODE_IP:18091/index.html")
	[ "$out" = "hello from busybox" ]
	# DNAT only: the server sees the client pod's own address
	out=$(sl_crictl exec "$c" timeout 5 wget -qO- "http://$SL_NODE_IP:18091/cgi-bin/ip")
	[ "$out" = "$(cri_pod_ip "$b")" ]
	cri_rmp "$a"
	[ "$(bpftool -j map dump pinned "$SL_PIN/sl_hport4" | jq length)" = 0 ]
	cri_rmp "$b"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(containerd) stopp and rmp release the lease, veth, endpoint, state file, netns and libcni cache" {
	local id ip veth
	id=$(cri_runp released)
	ip=$(cri_pod_ip "$id")
	veth=$(host_veth_of "$id")
	[ -n "$veth" ]
	sl_crictl stopp "$id" >/dev/null
	# StopPodSandbox already runs CNI DEL: the network is gone before removal.
	pod_gone "$ip" "$veth" "$id"
	[ -z "$(cri_netns_list)" ]
	sl_crictl rmp "$id" >/dev/null
	pod_gone "$ip" "$veth" "$id"
	run cni_cache_files
	[ -z "$output" ]
	[ -z "$(sl_crictl pods -q)" ]
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(containerd) a pod created and deleted 50 times leaves nothing behind" {
	local i id ips="" deadline=$(($(date +%s) + 120))
	for ((i = 1; i <= 50; i++)); do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "only $((i - 1)) cycles in 120 s" >&2; false; }
		id=$(cri_runp churn)
		ips+=" $(cri_pod_ip "$id")"
		cri_rmp "$id"
	done
	echo "IPs:$ips"
	# host-local hands out addresses round-robin: 50 pods, 50 addresses.
	[ "$(tr ' ' '\n' <<<"$ips" | grep -c '^10\.244\.0\.')" -eq 50 ]
	[ "$(node_snapshot)" = "$BASE" ]
	[ "$(ep_count)" -eq 0 ]
	run cni_cache_files
	[ -z "$output" ]
	[ -z "$(cri_netns_list)" ]
	[ -z "$(sl_crictl pods -q)" ]
	[ -z "$(host_veths)" ]
}

@test "(containerd) the machine's /run/netns, /var/lib/cni, mounts and sysctls are untouched" {
	[ "$(machine_snapshot)" = "$MACHINE_BEFORE" ]
}
