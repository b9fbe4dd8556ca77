# SPDX-License-Identifier: Apache-2.0
# A real Kubernetes node on an emulated one (node.bash): containerd (Debian's
# 1.6, containerd.bash's config) and kubelet v1.34.4 in the node's network
# namespace, in a UTS namespace whose hostname is the node's name (the kubelet
# takes its Node name from it; hostNetwork pods see it), and in a private
# mount namespace that makes the node look like a machine of its own to what
# runs there, so manifests/sluice.yaml's default paths work unchanged:
#   /run, /var/lib, /var/log      tmpfs (pod netns, shim sockets, libcni cache,
#                                 /var/lib/sluice, the kubelet's log dirs)
#   /etc/cni/net.d, /opt/cni      tmpfs (the conflist and the CNI bin dir)
#   /sys/fs/bpf                   a fresh bpffs of its own, shared (the
#                                 DaemonSet mounts it Bidirectional)
#   cgroup2 (/sys/fs/cgroup/unified or /sys/fs/cgroup)
#                                 the node's own cgroup bound over it, so the
#                                 agent's "cgroup2 root" is the node's cgroup
#   /proc/sys/{vm/overcommit_memory,kernel/panic,kernel/panic_on_oops}
#                                 files holding the machine's values: the
#                                 kubelet rewrites these machine-wide sysctls
# Nothing of it is visible from the machine; it ends with the holder process.
#
# Source after node.bash, containerd.bash and k8s.bash.

# shellcheck shell=bash

KNODE_SYSCTLS=(vm/overcommit_memory kernel/panic kernel/panic_on_oops)

knode_vars() {
	ctrd_vars
	# In a cluster (node.bash's cluster_use) every node has a kubelet root of its own.
	export SL_CTRD_CGROUP=sl-cri-$SL_RND${SL_NODE_IDX:+-$SL_NODE_IDX}
	export SL_KUBELET_DIR=$SL_SCRATCH/kubelet SL_KUBELET_LOG=$SL_SCRATCH/kubelet/kubelet.log
}

# knode_holder_start: the private mount and UTS namespaces, held by a sleeping process.
knode_holder_start() {
	local f cg2
	cg2=$(cgroup2_root)
	mkdir -p "$SL_CTRD_DIR/sysctl" "$SL_CGROUP" || return 1
	for f in "${KNODE_SYSCTLS[@]}"; do
		cat "/proc/sys/$f" >"$SL_CTRD_DIR/sysctl/${f##*/}" || return 1
	done
	(
		# shellcheck disable=SC2016 # $1.. are the inner shell's
		exec nsenter --net="/run/netns/$SL_NODE" unshare --mount --uts --propagation private sh -ec '
			d=$1 cg2=$2 cg=$3
			echo "$4" >/proc/sys/kernel/hostname
			for m in /run /var/lib /var/log /etc/cni/net.d; do
				mount -t tmpfs -o mode=0755 tmpfs "$m"
			done
			# Never a mkdir on the machine: without /opt/cni, cover /opt.
			if [ -d /opt/cni ]; then mount -t tmpfs -o mode=0755 tmpfs /opt/cni
			else mount -t tmpfs -o mode=0755 tmpfs /opt && mkdir /opt/cni; fi
			mkdir /opt/cni/bin
			# One bpffs at /sys/fs/bpf (the copy of the machine'"'"'s unmounted in
			# this namespace only): the runtime checks the path'"'"'s propagation.
			if mountpoint -q /sys/fs/bpf; then umount -l /sys/fs/bpf; fi
			mount -t bpf -o mode=0700 bpf /sys/fs/bpf
			mount --make-shared /sys/fs/bpf
			mount --bind "$cg" "$cg2"
			for f in overcommit_memory panic panic_on_oops; do
				p=$(ls /proc/sys/vm/$f /proc/sys/kernel/$f 2>/dev/null | head -n 1)
				mount --bind "$d/sysctl/$f" "$p"
			done
			echo $$ >"$d/holder.pid"
			exec sleep 100000' _ "$SL_CTRD_DIR" "$cg2" "$SL_CGROUP" "$SL_NODE"
	) </dev/null >>"$SL_CTRD_LOG" 2>&1 3>&- &
	wait_for 5 test -s "$SL_CTRD_DIR/holder.pid" ||
		sl_die "mount namespace holder did not start: $(tail -n 5 "$SL_CTRD_LOG")"
}

# knode_cgroups: the kubelet's cgroupRoot in every v1 hierarchy (cpuset
# initialised from its parent) and, through the bind, in the node's cgroup2.
knode_cgroups() {
	local h
	for h in /sys/fs/cgroup/*/; do
		h=${h%/}
		[ "$h" = "$(cgroup2_root)" ] && continue
		mountpoint -q "$h" || continue
		mkdir -p "$h/$SL_CTRD_CGROUP" || return 1
		if [ -e "$h/cpuset.cpus" ]; then
			cat "$h/cpuset.cpus" >"$h/$SL_CTRD_CGROUP/cpuset.cpus" &&
				cat "$h/cpuset.mems" >"$h/$SL_CTRD_CGROUP/cpuset.mems" || return 1
		fi
	done
	mkdir -p "$SL_CGROUP/$SL_CTRD_CGROUP"
}

# knode_containerd_start: containerd in the holder's namespaces, CNI dirs at
# the manifest's defaults (inside the namespace), the images imported.
knode_containerd_start() {
	SL_CNI_BIN=/opt/cni/bin SL_CONF_DIR=/etc/cni/net.d ctrd_config >"$SL_CTRD_CONF" || return 1
	(
		exec nsenter -t "$(ctrd_holder_pid)" -m -n -u containerd --config "$SL_CTRD_CONF" --log-level info
	) </dev/null >>"$SL_CTRD_LOG" 2>&1 3>&- &
	echo $! >"$SL_CTRD_DIR/containerd.pid"
	wait_for 20 sl_ctr version >/dev/null || sl_die "containerd did not answer in 20 s" || return 1
	ctrd_images_import
}

# knode_kubelet_config: the KubeletConfiguration that works on this machine
# (cgroup v1 hybrid, swap, no imagefs label) with x509 + webhook auth.
knode_kubelet_config() {
	cat <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		containerRuntimeEndpoint: unix://$SL_CTRD_SOCK
		cgroupDriver: cgroupfs
		cgroupRoot: /$SL_CTRD_CGROUP
		failCgroupV1: false
		failSwapOn: false
		podLogsDir: $SL_KUBELET_DIR/pod-logs
		volumePluginDir: $SL_KUBELET_DIR/volume-plugins
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: true}
		  x509: {clientCAFile: $SL_K8S_CA}
		authorization: {mode: Webhook}
		healthzBindAddress: 127.0.0.1
		readOnlyPort: 0
		resolvConf: /etc/resolv.conf
		clusterDomain: cluster.local
		clusterDNS: [$SL_K8S_DNS_IP]
		serializeImagePulls: false
	EOF
}

# knode_kubelet_start: the node's kubelet with its own system:node identity;
# no --hostname-override: its Node name is the UTS namespace's hostname.
knode_kubelet_start() {
	local d=$SL_KUBELET_DIR bin
	bin=$(k8s_tool_path kubelet) || return 1
	mkdir -p "$d/root" "$d/pki" "$d/pod-logs" "$d/volume-plugins" || return 1
	k8s_client_cert "kubelet-$SL_NODE" "system:node:$SL_NODE" system:nodes &&
		k8s_kubeconfig "$d/kubeconfig" "kubelet-$SL_NODE" &&
		knode_kubelet_config >"$d/config.yaml" || return 1
	(
		exec nsenter -t "$(ctrd_holder_pid)" -m -n -u "$bin" --config "$d/config.yaml" \
			--kubeconfig "$d/kubeconfig" --root-dir "$d/root" --cert-dir "$d/pki" \
			--node-ip "$SL_NODE_IP"
	) </dev/null >>"$SL_KUBELET_LOG" 2>&1 3>&- &
	echo $! >"$d/kubelet.pid"
}

# knode_up: holder, cgroups, containerd with the images, kubelet.
knode_up() {
	knode_vars
	mkdir -p "$SL_CTRD_DIR" "$SL_KUBELET_DIR" || return 1
	knode_holder_start && knode_cgroups && knode_containerd_start && knode_kubelet_start
}

# knode_down: kubelet, then every pod and containerd (ctrd_teardown), then
# the kubelet's cgroups. Idempotent.
knode_down() {
	knode_vars
	local pid
	pid=$(cat "$SL_KUBELET_DIR/kubelet.pid" 2>/dev/null)
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait_for 10 sh -c "! kill -0 '$pid' 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	fi
	# Containers have mount namespaces of their own: found by their cgroups.
	knode_cgroup_kill
	ctrd_teardown
	# Killed containers leave their cgroups populated until they are reaped.
	wait_for 10 knode_cgroups_remove
	return 0
}

# knode_cgroup_kill: SIGKILL to every process under the kubelet's cgroup root.
knode_cgroup_kill() {
	local f
	[ -d "$SL_CGROUP/$SL_CTRD_CGROUP" ] || return 0
	find "$SL_CGROUP/$SL_CTRD_CGROUP" -name cgroup.procs | while read -r f; do
		# shellcheck disable=SC2046
		kill -KILL $(cat "$f") 2>/dev/null
	done
	return 0
}

# knode_cgroups_remove: every cgroup of the kubelet's root, deepest first, in
# every hierarchy (also under the node's cgroup2 dir); fails while any is left.
knode_cgroups_remove() {
	local left
	find /sys/fs/cgroup -maxdepth 4 -type d -name "$SL_CTRD_CGROUP" 2>/dev/null |
		while read -r cg; do
			find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	left=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$SL_CTRD_CGROUP" 2>/dev/null)
	[ -z "$left" ]
}

# knode_exec CMD...: CMD on the node as its host processes see it.
knode_exec() { nsenter -t "$(ctrd_holder_pid)" -m -n -u "$@"; }
