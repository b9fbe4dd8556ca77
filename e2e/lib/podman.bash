# SPDX-License-Identifier: Apache-2.0
# podman as the container runtime of an emulated node (node.bash): CNI backend
# reading the agent's conflist, storage and runtime state under the node's
# scratch dir, an image imported from busybox-static (no registry).

# shellcheck shell=bash

podman_vars() {
	export SL_PODMAN_DIR=$SL_SCRATCH/podman
	export CONTAINERS_CONF=$SL_PODMAN_DIR/containers.conf
	# One cgroup parent per node, removed at teardown (cgroup v1 controllers
	# and v2 alike: find them by name).
	export SL_PODMAN_CGROUP=sl-pm-$SL_RND
}

# podman_env_problem: why podman cannot run containers here, "" if it can.
podman_env_problem() {
	command -v podman >/dev/null || { echo "podman is not installed (make deps)"; return; }
	command -v runc >/dev/null ||
		{ echo "runc is not installed (make deps): Debian's crun 1.8 refuses a hybrid cgroup hierarchy"; return; }
	command -v conmon >/dev/null || { echo "conmon is not installed"; return; }
	echo ""
}

# podman_setup: containers.conf, storage dirs, the busybox image.
podman_setup() {
	podman_vars
	local d=$SL_PODMAN_DIR rootfs a
	mkdir -p "$d/root" "$d/run" "$d/tmp" "$d/rootfs/bin" || return 1
	# Limits stay at or below the caller's: root here may lack CAP_SYS_RESOURCE,
	# and podman's default (nofile=1048576) would then fail in the runtime.
	cat >"$CONTAINERS_CONF" <<-EOF
		[containers]
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
		cgroupns = "private"
		[network]
		network_backend = "cni"
		cni_plugin_dirs = ["$SL_BUILD", "/usr/lib/cni"]
		network_config_dir = "$SL_CONF_DIR"
		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$d/events.log"
		tmp_dir = "$d/tmp"
		lock_type = "file"
		num_locks = 64
	EOF
	rootfs=$d/rootfs
	cp "$SL_BUSYBOX" "$rootfs/bin/busybox" || return 1
	for a in $("$SL_BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"
	done
	mkdir -p "$rootfs/tmp" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/www"
	echo "hello from podman" >"$rootfs/www/index.html"
	tar -C "$rootfs" -cf "$d/rootfs.tar" . || return 1
	sl_podman import -q "$d/rootfs.tar" localhost/busybox >/dev/null
}

# sl_podman ARGS: podman in the node's network namespace (nsenter: the mounts,
# cgroups and bpffs stay the machine's) with this node's storage.
sl_podman() {
	nsenter --net="/run/netns/$SL_NODE" timeout 120 podman \
		--root "$SL_PODMAN_DIR/root" --runroot "$SL_PODMAN_DIR/run" --storage-driver vfs \
		--tmpdir "$SL_PODMAN_DIR/tmp" "$@" 3>&-
}

# podman_run ARGS: a throwaway container on the sluice network.
podman_run() {
	sl_podman run --rm --network sluice --cgroup-parent "/$SL_PODMAN_CGROUP" "$@"
}

podman_teardown() {
	[ -n "${SL_SCRATCH:-}" ] && [ -n "${SL_PODMAN_DIR:-}" ] && [ -d "$SL_PODMAN_DIR" ] || return 0
	local m
	sl_podman rm -af -t 0 >/dev/null 2>&1
	# Whatever podman left mounted under its dirs (shm, overlay) goes first.
	awk -v p="$SL_PODMAN_DIR" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$SL_PODMAN_CGROUP" 2>/dev/null |
		while read -r m; do
			find "$m" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	rm -rf "$SL_PODMAN_DIR"
}
