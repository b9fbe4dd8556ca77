#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds sluice's container image (the one manifests/sluice.yaml runs) without
# a registry or an image builder, as an OCI archive for
# `ctr -n k8s.io images import` or `podman load`:
#   /usr/bin/sluice-agent, /usr/bin/sluice   the built binaries
#   /usr/lib/...                             every shared library they load (ldd)
#   /usr/lib/cni/{host-local,loopback,portmap}  what install-cni copies by default
#   /bin/busybox                             static; the init container mounting bpffs
#
# usage: manifests/image.sh BUILD_DIR OUT.tar     prints "REF OUT.tar"
#   REF is localhost/sluice:<agent version> (what the manifest names) unless
#   SLUICE_IMAGE_REF says otherwise (e.g. a registry's name, or a second tag)

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e/images/oci.bash
. "$here/../e2e/images/oci.bash"
SL_BUSYBOX=${SL_BUSYBOX:-/bin/busybox}
SL_CNI_PLUGINS=${SL_CNI_PLUGINS:-/usr/lib/cni}
work=

die() {
	echo "image.sh: $*" >&2
	exit 1
}

rootfs_build() {
	local build=$1 r=$2 p
	# The layout of a merged-/usr Debian, so ldd's /lib paths land in /usr/lib.
	mkdir -p "$r/usr/bin" "$r/usr/lib/cni" "$r/usr/lib64" "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev"
	ln -s usr/lib "$r/lib"
	ln -s usr/lib64 "$r/lib64"
	chmod 1777 "$r/tmp"
	install -m 0755 "$build/sluice-agent" "$build/sluice" "$r/usr/bin/"
	for p in host-local loopback portmap; do
		install -m 0755 "$SL_CNI_PLUGINS/$p" "$r/usr/lib/cni/$p"
	done
	install -m 0755 "$SL_BUSYBOX" "$r/bin/busybox"
	libs_copy "$r" "$build/sluice-agent" "$build/sluice"
	echo "root:x:0:0:root:/:/bin/busybox" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	echo "hosts: files dns" >"$r/etc/nsswitch.conf"
}

main() {
	[ $# = 2 ] || die "usage: $0 BUILD_DIR OUT.tar"
	local build=$1 out=$2 version ref p
	for p in "$build/sluice-agent" "$build/sluice"; do
		[ -x "$p" ] || die "$p is missing: run make"
	done
	for p in host-local loopback portmap; do
		[ -x "$SL_CNI_PLUGINS/$p" ] || die "$SL_CNI_PLUGINS/$p is missing (containernetworking-plugins; make deps)"
	done
	[ -x "$SL_BUSYBOX" ] || die "$SL_BUSYBOX is missing (busybox-static; make deps)"
	command -v jq >/dev/null || die "jq is missing (make deps)"
	# The tag is the agent's version, as manifests/sluice.yaml names it.
	version=$("$build/sluice-agent" version | awk '{ print $2 }')
	ref=${SLUICE_IMAGE_REF:-localhost/sluice:$version}
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	rootfs_build "$build" "$work/rootfs"
	# What this image was built as: two tags are two distinct images.
	echo "$ref" >"$work/rootfs/etc/sluice-image"
	mkdir -p "$(dirname "$out")"
	oci_archive "$out" "$ref" "$work/rootfs" '["/usr/bin/sluice-agent"]' '["PATH=/usr/bin:/bin"]'
	echo "$ref $out"
}

main "$@"
