#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the e2e suites' container images without a registry, as OCI image
# archives a runtime imports (`ctr -n k8s.io images import FILE`):
#   pause    the sandbox image: a static pause (pause.c) as /pause
#   busybox  busybox-static with every applet linked, /www/index.html and a
#            CGI /www/cgi-bin/ip answering the client's address, for traffic tests
#   coredns  only when SL_COREDNS names the pinned CoreDNS binary
#            (e2e/k8s/build.sh coredns): /coredns, static, for the cluster DNS
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

die() {
	echo "images/build.sh: $*" >&2
	exit 1
}

pause_build() {
	local work=$1
	mkdir -p "$work/pause"
	"$CC" -static -O2 -Wall -Werror -o "$work/pause/pause" "$here/pause.c"
	oci_archive "$2" "$PAUSE_REF" "$work/pause" '["/pause"]'
}

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
	oci_archive "$2" "$BUSYBOX_REF" "$r" '["/bin/sh"]'
}

# coredns_build OUT: the CoreDNS binary alone (it is static), cached by its
# own key (the binary is large and most suites do not need it).
coredns_build() {
	local key dir r
	[ -x "$SL_COREDNS" ] || die "SL_COREDNS=$SL_COREDNS is not an executable"
	key=$(cat "$here/build.sh" "$here/oci.bash" "$SL_COREDNS" | sha256sum | cut -c1-16)
	dir=$SL_IMAGE_CACHE/coredns-$key
	if [ ! -s "$dir/coredns.oci.tar" ]; then
		mkdir -p "$dir" || die "cannot create $dir (run as root, or set SL_IMAGE_CACHE)"
		r=$(mktemp -d)
		mkdir -p "$r/etc" "$r/tmp"
		cp "$SL_COREDNS" "$r/coredns"
		oci_archive "$dir/coredns.oci.tar" "$COREDNS_REF" "$r" '["/coredns"]'
		rm -rf "$r"
	fi
	echo "coredns $COREDNS_REF $dir/coredns.oci.tar"
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
	[ -z "${SL_COREDNS:-}" ] || coredns_build
}

main "$@"
