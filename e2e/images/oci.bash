# SPDX-License-Identifier: Apache-2.0
# Writes container images without a registry or an image builder: an OCI
# image layout (one uncompressed layer of a rootfs directory, named by an
# io.containerd.image.name annotation) packed as an archive that
# `ctr -n k8s.io images import` and `podman load` read, and the libraries a
# binary copied into one needs. Used by
# e2e/images/build.sh (test images) and manifests/image.sh (sluice's image).

# shellcheck shell=bash

sha() { sha256sum "$1" | cut -d' ' -f1; }

# blob_add LAYOUT FILE: moves FILE into LAYOUT's blobs; prints its digest hex.
blob_add() {
	local h
	h=$(sha "$2")
	mv -f "$2" "$1/blobs/sha256/$h"
	echo "$h"
}

# oci_archive OUT REF ROOTFS ENTRYPOINT_JSON [ENV_JSON [CMD_JSON]]: an OCI
# archive of ROOTFS (ENV_JSON defaults to ["PATH=/bin"], CMD_JSON to none).
oci_archive() {
	local out=$1 ref=$2 rootfs=$3 entry=$4 env=${5:-'["PATH=/bin"]'} cmd=${6:-null} lay layer config manifest
	lay=$(mktemp -d "$out.XXXXXX")
	mkdir -p "$lay/blobs/sha256"
	tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$rootfs" -cf "$lay/layer" .
	layer=$(blob_add "$lay" "$lay/layer")
	jq -cn --arg l "sha256:$layer" --argjson e "$entry" --argjson env "$env" --argjson cmd "$cmd" '{
		architecture: "amd64", os: "linux",
		config: ({Entrypoint: $e, Env: $env, WorkingDir: "/"} + if $cmd then {Cmd: $cmd} else {} end),
		rootfs: {type: "layers", diff_ids: [$l]}}' >"$lay/config"
	config=$(blob_add "$lay" "$lay/config")
	jq -cn --arg c "sha256:$config" --argjson cs "$(stat -c %s "$lay/blobs/sha256/$config")" \
		--arg l "sha256:$layer" --argjson ls "$(stat -c %s "$lay/blobs/sha256/$layer")" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]}' \
		>"$lay/manifest"
	manifest=$(blob_add "$lay" "$lay/manifest")
	jq -cn --arg m "sha256:$manifest" --argjson ms "$(stat -c %s "$lay/blobs/sha256/$manifest")" \
		--arg ref "$ref" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		platform: {architecture: "amd64", os: "linux"},
		annotations: {"io.containerd.image.name": $ref,
			"org.opencontainers.image.ref.name": ($ref | split(":")[1])}}]}' >"$lay/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
	tar -C "$lay" -cf "$out.tmp" oci-layout index.json blobs
	rm -rf "$lay"
	mv -f "$out.tmp" "$out"
}

# libs_copy ROOTFS BINARY...: every library ldd resolves, at the same path.
libs_copy() {
	local root=$1 lib
	shift
	for lib in $(ldd "$@" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | sort -u); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
