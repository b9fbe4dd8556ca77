#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the pinned third-party Kubernetes tools of the e2e suites (go.mod in
# this directory pins them) into a cache keyed by version:
# $SL_K8S_CACHE/<module>@<version>/<tool>. A tool already there is not
# rebuilt, so a second run takes seconds. Prints one "tool path" line each.
#
# usage: e2e/k8s/build.sh [TOOL...]     (default: every tool in TOOLS)
#
# Adding a tool (kube-apiserver, etcd, kubelet, ...: issue 13) is one line in
# TOOLS below plus its module in go.mod/tools.go; a module needing replace
# directives (k8s.io/kubernetes) gets them in go.mod.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
SL_K8S_CACHE=${SL_K8S_CACHE:-/var/cache/sluice/k8s}

# name | module (its version comes from go.mod) | package | -X version variables
TOOLS=(
	"crictl|sigs.k8s.io/cri-tools|sigs.k8s.io/cri-tools/cmd/crictl|sigs.k8s.io/cri-tools/pkg/version.Version"
)

die() {
	echo "k8s/build.sh: $*" >&2
	exit 1
}

# module_version MODULE: the version go.mod pins.
module_version() {
	(cd "$here" && "$GO" list -m -f '{{.Version}}' "$1")
}

# tool_build NAME MODULE PACKAGE VARS: builds one tool unless its versioned
# path exists; the binary appears atomically (temp name, then rename).
tool_build() {
	local name=$1 module=$2 pkg=$3 vars=$4 version dir out ldflags v
	version=$(module_version "$module") || die "module $module is not in $here/go.mod"
	dir=$SL_K8S_CACHE/${module##*/}@$version
	out=$dir/$name
	if [ ! -x "$out" ]; then
		mkdir -p "$dir" 2>/dev/null || die "cannot create $dir (run as root, or set SL_K8S_CACHE)"
		ldflags="-s -w"
		IFS=, read -r -a v <<<"$vars"
		for var in "${v[@]}"; do
			ldflags+=" -X $var=$version"
		done
		echo "k8s/build.sh: building $name $version (first time; cached in $dir)" >&2
		(cd "$here" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath \
			-ldflags "$ldflags" -o "$out.tmp.$$" "$pkg") || {
			rm -f "$out.tmp.$$"
			die "building $name from $pkg@$version failed"
		}
		mv -f "$out.tmp.$$" "$out"
	fi
	echo "$name $out"
}

main() {
	[ -x "$GO" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"
	local want=("$@") entry name found
	[ ${#want[@]} -gt 0 ] || for entry in "${TOOLS[@]}"; do want+=("${entry%%|*}"); done
	for name in "${want[@]}"; do
		found=
		for entry in "${TOOLS[@]}"; do
			[ "${entry%%|*}" = "$name" ] || continue
			IFS='|' read -r _ module pkg vars <<<"$entry"
			tool_build "$name" "$module" "$pkg" "$vars"
			found=1
		done
		[ -n "$found" ] || die "unknown tool '$name' (known: $(printf '%s ' "${TOOLS[@]%%|*}"))"
	done
}

main "$@"
