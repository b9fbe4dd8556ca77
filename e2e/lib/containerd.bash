# SPDX-License-Identifier: Apache-2.0
# containerd (Debian's 1.6, CRI plugin, runc) as the runtime of an emulated
# node (node.bash), driven with crictl (e2e/k8s/build.sh). containerd runs in
# the node's network namespace and in a private mount namespace, held by a
# long-lived process, in which tmpfs covers /run (pod netns in /run/netns,
# shim sockets in /run/containerd) and /var/lib/cni (libcni's cache): the
# machine's own /run/netns and /var/lib/cni are never touched. Its root, state,
# config and socket live under the node's scratch dir; its CNI conf dir is the
# agent's, its bin dir the node's, filled by `sluice-agent install-cni`.

# shellcheck shell=bash

ctrd_vars() {
	export SL_CTRD_DIR=$SL_SCRATCH/containerd
	export SL_CTRD_SOCK=$SL_CTRD_DIR/containerd.sock
	export SL_CTRD_CONF=$SL_CTRD_DIR/config.toml
	export SL_CTRD_LOG=$SL_CTRD_DIR/containerd.log
	# Every pod's cgroups under one parent per node, removed at teardown.
	export SL_CTRD_CGROUP=sl-cri-$SL_RND
}

# ctrd_env_problem: why containerd cannot run pods here, "" if it can.
ctrd_env_problem() {
	command -v containerd >/dev/null || { echo "containerd is not installed (make deps)"; return; }
	command -v ctr >/dev/null || { echo "ctr is not installed (containerd; make deps)"; return; }
	command -v runc >/dev/null || { echo "runc is not installed (make deps)"; return; }
	[ -x /usr/lib/cni/loopback ] || { echo "/usr/lib/cni/loopback is missing (containernetworking-plugins)"; return; }
	echo ""
}

# ctrd_holder_pid: the process holding the node's private mount namespace.
ctrd_holder_pid() { cat "$SL_CTRD_DIR/holder.pid" 2>/dev/null; }

# ctrd_exec CMD...: CMD in the node's network and private mount namespaces.
ctrd_exec() { nsenter -t "$(ctrd_holder_pid)" -m -n "$@"; }

# ctrd_config: containerd's config.toml (version 2) for this node.
ctrd_config() {
	cat <<-EOF
		version = 2
		root = "$SL_CTRD_DIR/root"
		state = "$SL_CTRD_DIR/state"
		disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
		  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
		  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
		[grpc]
		  address = "$SL_CTRD_SOCK"
		[ttrpc]
		  address = "$SL_CTRD_SOCK.ttrpc"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$SL_CTRD_DIR/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$SL_PAUSE_REF"
		  # root here lacks CAP_SYS_RESOURCE: without this the sandbox fails with
		  # "can't get final child's PID from pipe: EOF".
		  restrict_oom_score_adj = true
		  disable_apparmor = true
		  stream_server_address = "127.0.0.1"
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        BinaryName = "$(command -v runc)"
		        SystemdCgroup = false
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "$SL_CNI_BIN"
		    conf_dir = "$SL_CONF_DIR"
		    max_conf_num = 1
	EOF
}

# ctrd_start: the private mount namespace, then containerd in it; waits for
# the CRI to answer and its network to be ready (the agent's conflist read).
ctrd_start() {
	ctrd_vars
	mkdir -p "$SL_CTRD_DIR" || return 1
	ctrd_config >"$SL_CTRD_CONF" || return 1
	# crictl's own config, so it never reads the machine's /etc/crictl.yaml.
	printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' \
		"$SL_CTRD_SOCK" "$SL_CTRD_SOCK" >"$SL_CTRD_DIR/crictl.yaml" || return 1
	# The holder: node netns, private mounts with tmpfs over /run and /var/lib/cni.
	(
		# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
		exec nsenter --net="/run/netns/$SL_NODE" unshare --mount --propagation private \
			sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run || exit 1
				# Never a mkdir on the machine: without /var/lib/cni, cover /var/lib.
				if [ -d /var/lib/cni ]; then mount -t tmpfs -o mode=0755 tmpfs /var/lib/cni
				else mount -t tmpfs -o mode=0755 tmpfs /var/lib && mkdir /var/lib/cni; fi || exit 1
				echo $$ >"$1" && exec sleep 100000' _ "$SL_CTRD_DIR/holder.pid"
	) </dev/null >>"$SL_CTRD_LOG" 2>&1 3>&- &
	wait_for 5 test -s "$SL_CTRD_DIR/holder.pid" || sl_die "mount namespace holder did not start" || return 1
	(
		exec nsenter -t "$(ctrd_holder_pid)" -m -n containerd --config "$SL_CTRD_CONF" --log-level info
	) </dev/null >>"$SL_CTRD_LOG" 2>&1 3>&- &
	echo $! >"$SL_CTRD_DIR/containerd.pid"
	wait_for 20 crictl_ready || {
		sl_die "containerd's CRI did not report NetworkReady within 20 s:"
		tail -n 20 "$SL_CTRD_LOG" >&2
		return 1
	}
}

crictl_ready() {
	sl_crictl info 2>/dev/null | jq -e '[.status.conditions[] | select(.status == true) | .type]
		| index("RuntimeReady") != null and index("NetworkReady") != null' >/dev/null
}

# sl_crictl ARGS: crictl against this node's containerd (bounded in time), from
# the node's netns: exec/attach stream from containerd's server on its loopback.
sl_crictl() {
	nsenter --net="/run/netns/$SL_NODE" timeout 60 "$SL_CRICTL" --config "$SL_CTRD_DIR/crictl.yaml" --runtime-endpoint "unix://$SL_CTRD_SOCK" \
		--image-endpoint "unix://$SL_CTRD_SOCK" --timeout 30s "$@" 3>&-
}

sl_ctr() { timeout 60 ctr --address "$SL_CTRD_SOCK" --namespace k8s.io "$@" 3>&-; }

# ctrd_images_import: the local images (e2e/images/build.sh) into namespace k8s.io.
ctrd_images_import() {
	local name ref archive
	while read -r name ref archive; do
		sl_ctr images import --no-unpack "$archive" >/dev/null || sl_die "ctr import of $archive failed" || return 1
		sl_ctr images ls -q | grep -qxF "$ref" || sl_die "image $ref ($name) not in containerd after import" || return 1
	done <<<"$SL_IMAGES"
}

# ctrd_teardown: every pod removed, containerd and its shims ended, the mount
# namespace released (its tmpfs with it), the pods' cgroups removed. Idempotent.
ctrd_teardown() {
	[ -n "${SL_SCRATCH:-}" ] && [ -n "${SL_CTRD_DIR:-}" ] && [ -d "$SL_CTRD_DIR" ] || return 0
	local holder mnt pid p cg
	holder=$(ctrd_holder_pid)
	if [ -S "$SL_CTRD_SOCK" ]; then
		for p in $(sl_crictl pods -q 2>/dev/null); do
			sl_crictl stopp "$p" >/dev/null 2>&1
			sl_crictl rmp "$p" >/dev/null 2>&1
		done
	fi
	pid=$(cat "$SL_CTRD_DIR/containerd.pid" 2>/dev/null)
	[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null
	wait_for 5 sh -c "! kill -0 '$pid' 2>/dev/null"
	# Whatever is left in the private mount namespace (shims, containers): by pid.
	if [ -n "$holder" ] && mnt=$(readlink "/proc/$holder/ns/mnt" 2>/dev/null); then
		for p in /proc/[0-9]*; do
			[ "${p#/proc/}" = "$holder" ] && continue
			[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mnt" ] && kill -KILL "${p#/proc/}" 2>/dev/null
		done
		kill -KILL "$holder" 2>/dev/null
	fi
	find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$SL_CTRD_CGROUP" 2>/dev/null |
		while read -r cg; do
			find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	# containerd's overlay mounts live in the private namespace and end with it;
	# anything under its root mounted in the machine's namespace would be a bug.
	awk -v p="$SL_CTRD_DIR" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r p; do umount -l "$p" 2>/dev/null; done
	rm -rf "$SL_CTRD_DIR"
}

# --- pods and containers through the CRI -----------------------------------------------

# pod_config NAME: a PodSandboxConfig (JSON) for pod NAME of this node.
pod_config() {
	jq -cn --arg n "$1" --arg uid "uid-$1-$SL_RND" --arg cg "/$SL_CTRD_CGROUP" '{
		metadata: {name: $n, namespace: "default", uid: $uid, attempt: 0},
		log_directory: "/tmp", linux: {cgroup_parent: $cg}}'
}

# cri_runp NAME: runs a pod sandbox; prints its id.
cri_runp() {
	local f=$SL_CTRD_DIR/pod-$1.json
	pod_config "$1" >"$f" && sl_crictl runp "$f"
}

# cri_pod_ip ID: the sandbox's IP as containerd reports it (from the CNI result).
cri_pod_ip() { sl_crictl inspectp "$1" | jq -r '.status.network.ip'; }

# cri_run POD_ID NAME CMD...: a busybox container in the pod, started; prints its id.
cri_run() {
	local pod=$1 name=$2 c=$SL_CTRD_DIR/ctr-$2.json id
	shift 2
	printf '%s\n' "$@" | jq -R . | jq -cs --arg n "$name" --arg img "$SL_BUSYBOX_REF" '{
		metadata: {name: $n}, image: {image: $img}, command: .,
		log_path: ($n + ".log"), linux: {}}' >"$c" || return 1
	id=$(sl_crictl create "$pod" "$c" "$SL_CTRD_DIR/pod-$(sl_crictl inspectp "$pod" |
		jq -r .status.metadata.name).json") || return 1
	sl_crictl start "$id" >/dev/null || return 1
	echo "$id"
}

# cri_rmp ID: StopPodSandbox then RemovePodSandbox, as the kubelet does.
cri_rmp() { sl_crictl stopp "$1" >/dev/null && sl_crictl rmp "$1" >/dev/null; }

# libcni's cache of results inside the node's mount namespace, one line per file.
cni_cache_files() { ctrd_exec find /var/lib/cni -type f 2>/dev/null; }

# the pod netns containerd made (/run/netns/cni-*), seen in its mount namespace.
cri_netns_list() { ctrd_exec sh -c 'ls /run/netns 2>/dev/null | grep "^cni-" || true'; }
