#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the pinned third-party Kubernetes tools of the e2e suites into a
# cache keyed by version: $SL_K8S_CACHE/<module>@<version>/<tool>. The
# versions are pinned by go.mod files: this directory's (cri-tools),
# kubernetes/ (k8s.io/kubernetes with a replace for each staging module, which
# would clash with cri-tools' requirements), etcd/, coredns/ and cnitool/. A tool already in the
# cache is not rebuilt, so a second run takes seconds. Prints one
# "tool path" line each.
#
# usage: e2e/k8s/build.sh [--cached] [--core] [TOOL...]   (default: every tool in TOOLS)
#   --cached  build nothing: print the cached ones, exit 3 if one is missing
#   --core    every tool but UPSTREAM's (what runs Kubernetes' own e2e tests)
#
# Adding a tool is one line in TOOLS below plus its package in the module
# directory's tools.go.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
SL_K8S_CACHE=${SL_K8S_CACHE:-/var/cache/sluice/k8s}
cached_only=

# The -X version stamps of every k8s.io/kubernetes binary: without them
# /version says v0.0.0-master. {v}, {major} and {minor} come from go.mod.
K8S_VARS=
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	K8S_VARS+="$pkg.gitVersion={v},$pkg.gitMajor={major},$pkg.gitMinor={minor},"
	K8S_VARS+="$pkg.gitTreeState=clean,"
done
K8S_VARS=${K8S_VARS%,}
K8S=k8s.io/kubernetes

# name | module dir (holds the go.mod) | module (its version comes from that
# go.mod) | package ("test:" and a package: its test binary, `go test -c`, as
# Kubernetes' e2e.test is built) | -X variables (VAR means VAR={v})
TOOLS=(
	"crictl|.|sigs.k8s.io/cri-tools|sigs.k8s.io/cri-tools/cmd/crictl|sigs.k8s.io/cri-tools/pkg/version.Version"
	"etcd|etcd|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3|"
	"coredns|coredns|github.com/coredns/coredns|github.com/coredns/coredns|"
	"cnitool|cnitool|github.com/containernetworking/cni|github.com/containernetworking/cni/cnitool|"
	"kube-apiserver|kubernetes|$K8S|$K8S/cmd/kube-apiserver|$K8S_VARS"
	"kube-controller-manager|kubernetes|$K8S|$K8S/cmd/kube-controller-manager|$K8S_VARS"
	"kube-scheduler|kubernetes|$K8S|$K8S/cmd/kube-scheduler|$K8S_VARS"
	"kubectl|kubernetes|$K8S|$K8S/cmd/kubectl|$K8S_VARS"
	"kubelet|kubernetes|$K8S|$K8S/cmd/kubelet|$K8S_VARS"
	"kube-proxy|kubernetes|$K8S|$K8S/cmd/kube-proxy|$K8S_VARS"
	"agnhost|kubernetes|$K8S|$K8S/test/images/agnhost|"
	"regression-issue-74839|kubernetes|$K8S|$K8S/test/images/regression-issue-74839|"
	"e2e.test|kubernetes|$K8S|test:$K8S/test/e2e|$K8S_VARS"
	"ginkgo|kubernetes|github.com/onsi/ginkgo/v2|github.com/onsi/ginkgo/v2/ginkgo|"
)

# The tools only the run of Kubernetes' own e2e tests needs (built last).
UPSTREAM=" agnhost regression-issue-74839 e2e.test ginkgo "

die() {
	echo "k8s/build.sh: $*" >&2
	exit 1
}

# module_version MODDIR MODULE: the version MODDIR's go.mod pins.
module_version() {
	(cd "$here/$1" && "$GO" list -m -f '{{.Version}}' "$2")
}

# version_ldflags VERSION VARS: "-s -w" plus one -X per variable, {v},
# {major} and {minor} filled in from VERSION (v1.34.4: 1 and 34).
version_ldflags() {
	local version=$1 vars=$2 major minor var val flags="-s -w" v
	IFS=. read -r major minor _ <<<"${version#v}"
	IFS=, read -r -a v <<<"$vars"
	for var in "${v[@]}"; do
		[[ $var == *=* ]] || var+="={v}"
		val=${var#*=}
		val=${val//\{v\}/$version}
		val=${val//\{major\}/$major}
		val=${val//\{minor\}/$minor}
		flags+=" -X ${var%%=*}=$val"
	done
	echo "$flags"
}

# tool_build NAME MODDIR MODULE PACKAGE VARS: builds one tool unless its
# versioned path exists; the binary appears atomically (temp name, then rename).
tool_build() {
	local name=$1 moddir=$2 module=$3 pkg=$4 vars=$5 version dir out ldflags verb
	version=$(module_version "$moddir" "$module") ||
		die "module $module is not in $here/$moddir/go.mod"
	# Named for the module directory when it has its own (etcd/v3 says little).
	if [ "$moddir" = . ]; then dir=${module##*/}; else dir=$moddir; fi
	dir=$SL_K8S_CACHE/$dir@$version
	out=$dir/$name
	if [ ! -x "$out" ] && [ -n "$cached_only" ]; then
		echo "k8s/build.sh: $name $version is not built ($out): make k8s-tools" >&2
		return 3
	fi
	if [ ! -x "$out" ]; then
		mkdir -p "$dir" 2>/dev/null || die "cannot create $dir (run as root, or set SL_K8S_CACHE)"
		ldflags=$(version_ldflags "$version" "$vars")
		echo "k8s/build.sh: building $name $version (first time; cached in $dir)" >&2
		verb=(build)
		[[ $pkg != test:* ]] || verb=(test -c)
		(cd "$here/$moddir" && CGO_ENABLED=0 "$GO" "${verb[@]}" -mod=readonly -trimpath \
			-ldflags "$ldflags" -o "$out.tmp.$$" "${pkg#test:}") || {
			rm -f "$out.tmp.$$"
			die "building $name from $pkg@$version failed"
		}
		mv -f "$out.tmp.$$" "$out"
	fi
	echo "$name $out"
}

main() {
	[ -x "$GO" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"
	local core="" want entry name found
	[ "${1:-}" != --cached ] || { cached_only=1 && shift; }
	[ "${1:-}" != --core ] || { core=1 && shift; }
	want=("$@")
	[ ${#want[@]} -gt 0 ] || for entry in "${TOOLS[@]}"; do
		name=${entry%%|*}
		[ -n "$core" ] && [[ $UPSTREAM == *" $name "* ]] || want+=("$name")
	done
	for name in "${want[@]}"; do
		found=
		for entry in "${TOOLS[@]}"; do
			[ "${entry%%|*}" = "$name" ] || continue
			IFS='|' read -r _ moddir module pkg vars <<<"$entry"
			tool_build "$name" "$moddir" "$module" "$pkg" "$vars" || return
			found=1
		done
		[ -n "$found" ] || die "unknown tool '$name' (known: $(printf '%s ' "${TOOLS[@]%%|*}"))"
	done
}

main "$@"
