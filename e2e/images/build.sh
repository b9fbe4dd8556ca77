#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the e2e suites' container images without a registry, as OCI image
# archives a runtime imports (`ctr -n k8s.io images import FILE`):
#   pause    the sandbox image: a static pause (pause.c) as /pause
#   busybox  busybox-static with every applet linked, /www/index.html and a
#            CGI /www/cgi-bin/ip answering the client's address, for traffic tests
#   coredns  only when SL_COREDNS names the pinned CoreDNS binary
#            (e2e/k8s/build.sh coredns): /coredns, static, for the cluster DNS
#   agnhost  only when SL_AGNHOST names the pinned agnhost binary (e2e/k8s/build.sh
#            agnhost): the image Kubernetes' own e2e tests run, under the
#            names they pull (with pause and busybox under theirs too)
#            and jessie-dnsutils: agnhost's tools without agnhost, the
#            DNS tests' second querier (a glibc dig and getent)
#   regression-issue-74839  only when SL_BOOM names that binary (e2e/k8s/build.sh):
#            the e2e test image that sends a packet out of the TCP window
# Each archive is written as an OCI layout (one uncompressed layer), named by an
# io.containerd.image.name annotation, and cached under
# $SL_IMAGE_CACHE/<hash of the inputs>/ so a second run only prints the paths.
#
# usage: e2e/images/build.sh            prints "NAME REF ARCHIVE" per image

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e/images/oci.bash
. "$here/oci.bash"
SL_BUSYBOX=${SL_BUSYBOX:-/bin/busybox}
SL_IMAGE_CACHE=${SL_IMAGE_CACHE:-/var/cache/sluice/images}
work=
CC=${CC:-gcc}
PAUSE_REF=localhost/sluice/pause:1
BUSYBOX_REF=localhost/sluice/busybox:1
COREDNS_REF=localhost/sluice/coredns:1
# The names test/utils/image/manifest.go of Kubernetes v1.34.4 gives them.
AGNHOST_REF=registry.k8s.io/e2e-test-images/agnhost:2.56
DNSUTILS_REF=registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7
UPSTREAM_PAUSE_REF=registry.k8s.io/pause:3.10.1
UPSTREAM_BUSYBOX_REF=registry.k8s.io/e2e-test-images/busybox:1.37.0-1
BOOM_REF=registry.k8s.io/e2e-test-images/regression-issue-74839:1.2

die() {
	echo "images/build.sh: $*" >&2
	exit 1
}

# pause_build WORK OUT [REF]: the pause image (REF defaults to PAUSE_REF).
pause_build() {
	local work=$1
	mkdir -p "$work/pause"
	"$CC" -static -O2 -Wall -Werror -o "$work/pause/pause" "$here/pause.c"
	oci_archive "$2" "${3:-$PAUSE_REF}" "$work/pause" '["/pause"]'
}

# busybox_build WORK OUT [REF]: the busybox image (REF defaults to BUSYBOX_REF).
busybox_build() {
	local work=$1 r=$1/busybox a
	mkdir -p "$r/bin" "$r/tmp" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/www/cgi-bin"
	cp "$SL_BUSYBOX" "$r/bin/busybox"
	for a in $("$SL_BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	echo "hello from busybox" >"$r/www/index.html"
	# httpd listens on an IPv6 socket: REMOTE_ADDR is "[::ffff:a.b.c.d]".
	cat >"$r/www/cgi-bin/ip" <<-'EOF'
		#!/bin/sh
		a=${REMOTE_ADDR#\[}
		a=${a%\]}
		printf 'Content-Type: text/plain\r\n\r\n%s\n' "${a#::ffff:}"
	EOF
	chmod 0755 "$r/www/cgi-bin/ip"
	echo "root:x:0:0:root:/:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	oci_archive "$2" "${3:-$BUSYBOX_REF}" "$r" '["/bin/sh"]'
}

# static_build NAME REF BINARY: an image of one static binary as /NAME, its
# entrypoint, cached by its own key (the binaries are large and most suites do
# not need them). Prints "NAME REF ARCHIVE".
static_build() {
	local name=$1 ref=$2 bin=$3 key dir r
	[ -x "$bin" ] || die "$name: $bin is not an executable"
	key=$(cat "$here/build.sh" "$here/oci.bash" "$bin" | sha256sum | cut -c1-16)
	dir=$SL_IMAGE_CACHE/$name-$key
	if [ ! -s "$dir/$name.oci.tar" ]; then
		mkdir -p "$dir" || die "cannot create $dir (run as root, or set SL_IMAGE_CACHE)"
		r=$(mktemp -d)
		mkdir -p "$r/etc" "$r/tmp"
		cp "$bin" "$r/$name"
		oci_archive "$dir/$name.oci.tar" "$ref" "$r" "[\"/$name\"]"
		rm -rf "$r"
	fi
	echo "$name $ref $dir/$name.oci.tar"
}

# tools_rootfs ROOTFS: what agnhost's Dockerfile adds to Alpine that the
# tests exec (curl, netcat-openbsd's nc, iproute2's ip and ss, bash, bind's
# dig; glibc's getent for the DNS tests' /etc/hosts probes), with their
# libraries; busybox's applets for every other command a test's shell runs
# (Alpine's are busybox's too) but wget: Debian's busybox crashes on `wget
# -T`, so GNU wget. /bin/sh is dash: Debian's busybox shell runs its own
# applets before a binary on PATH (its nc and ip, not these). agnhost's user
# and group as its Dockerfile.
tools_rootfs() {
	local r=$1 a tools=() t
	mkdir -p "$r/usr/bin" "$r/usr/lib" "$r/usr/lib64" "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev"
	ln -s usr/lib "$r/lib"
	ln -s usr/lib64 "$r/lib64"
	chmod 1777 "$r/tmp"
	for t in curl wget nc.openbsd ip ss bash dash dig getent; do
		tools+=("$(command -v "$t")") || die "$t is missing (make deps)"
	done
	cp "${tools[@]}" "$r/usr/bin/"
	mv "$r/usr/bin/nc.openbsd" "$r/usr/bin/nc"
	libs_copy "$r" "${tools[@]}"
	cp "$SL_BUSYBOX" "$r/bin/busybox"
	for a in $("$SL_BUSYBOX" --list); do
		[ -e "$r/usr/bin/$a" ] || [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	ln -sf ../usr/bin/dash "$r/bin/sh"
	printf '%s\n' "root:x:0:0:root:/root:/bin/sh" \
		"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh" >"$r/etc/passwd"
	printf '%s\n' "root:x:0:" "user-defined-in-image:x:1000:" \
		"group-defined-in-image:x:50000:user-defined-in-image" >"$r/etc/group"
	echo "hosts: files dns" >"$r/etc/nsswitch.conf"
}

# agnhost_rootfs ROOTFS: the tools, /agnhost and its second name, and the rest
# its Dockerfile adds: /uploads (netexec's), porter's TLS key pair
# /localhost.crt and .key (upstream ships a self-signed one for localhost;
# here a fresh one, which nothing verifies) and /coredns (the DNS tests' own
# server; here the pinned CoreDNS, SL_COREDNS, where upstream has 1.6.2). Its
# default command `pause` is given to oci_archive below.
agnhost_rootfs() {
	local r=$1
	tools_rootfs "$r"
	cp "$SL_AGNHOST" "$r/agnhost"
	ln -s agnhost "$r/agnhost-2"
	mkdir -p "$r/uploads"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
		-keyout "$r/localhost.key" -out "$r/localhost.crt" 2>/dev/null || die "openssl failed (make deps)"
	[ -z "${SL_COREDNS:-}" ] || cp "$SL_COREDNS" "$r/coredns"
}

# agnhost_build DIR: the agnhost image, and the pause and busybox images of
# DIR again under the upstream names, cached by their inputs.
agnhost_build() {
	local dir=$1 key adir r env='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
	[ -x "$SL_AGNHOST" ] || die "SL_AGNHOST=$SL_AGNHOST is not an executable"
	key=$(cat "$here/build.sh" "$here/oci.bash" "$SL_AGNHOST" "${SL_COREDNS:-/dev/null}" \
		"$dir/pause.oci.tar" "$dir/busybox.oci.tar" |
		sha256sum | cut -c1-16)
	adir=$SL_IMAGE_CACHE/agnhost-$key
	if [ ! -s "$adir/agnhost.oci.tar" ] || [ ! -s "$adir/dnsutils.oci.tar" ]; then
		mkdir -p "$adir" || die "cannot create $adir (run as root, or set SL_IMAGE_CACHE)"
		r=$(mktemp -d)
		agnhost_rootfs "$r/agnhost"
		oci_archive "$adir/agnhost.oci.tar" "$AGNHOST_REF" "$r/agnhost" '["/agnhost"]' "$env" '["pause"]'
		tools_rootfs "$r/dnsutils"
		oci_archive "$adir/dnsutils.oci.tar" "$DNSUTILS_REF" "$r/dnsutils" '["/bin/sh"]' "$env"
		pause_build "$r" "$adir/upstream-pause.oci.tar" "$UPSTREAM_PAUSE_REF"
		busybox_build "$r" "$adir/upstream-busybox.oci.tar" "$UPSTREAM_BUSYBOX_REF"
		rm -rf "$r"
	fi
	echo "agnhost $AGNHOST_REF $adir/agnhost.oci.tar"
	echo "jessie-dnsutils $DNSUTILS_REF $adir/dnsutils.oci.tar"
	echo "upstream-pause $UPSTREAM_PAUSE_REF $adir/upstream-pause.oci.tar"
	echo "upstream-busybox $UPSTREAM_BUSYBOX_REF $adir/upstream-busybox.oci.tar"
}

main() {
	command -v jq >/dev/null || die "jq is missing (make deps)"
	[ -x "$SL_BUSYBOX" ] || die "$SL_BUSYBOX is missing (busybox-static; make deps)"
	local key dir
	# The inputs: this recipe, the OCI writer, pause.c and the busybox binary.
	key=$(cat "$here/build.sh" "$here/oci.bash" "$here/pause.c" "$SL_BUSYBOX" | sha256sum | cut -c1-16)
	dir=$SL_IMAGE_CACHE/$key
	if [ ! -s "$dir/pause.oci.tar" ] || [ ! -s "$dir/busybox.oci.tar" ]; then
		mkdir -p "$dir" || die "cannot create $dir (run as root, or set SL_IMAGE_CACHE)"
		work=$(mktemp -d)
		trap 'rm -rf "$work"' EXIT
		pause_build "$work" "$dir/pause.oci.tar"
		busybox_build "$work" "$dir/busybox.oci.tar"
	fi
	echo "pause $PAUSE_REF $dir/pause.oci.tar"
	echo "busybox $BUSYBOX_REF $dir/busybox.oci.tar"
	[ -z "${SL_COREDNS:-}" ] || static_build coredns "$COREDNS_REF" "$SL_COREDNS"
	[ -z "${SL_AGNHOST:-}" ] || agnhost_build "$dir"
	[ -z "${SL_BOOM:-}" ] || static_build regression-issue-74839 "$BOOM_REF" "$SL_BOOM"
}

main "$@"
