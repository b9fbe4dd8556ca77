//go:build tools

// SPDX-License-Identifier: Apache-2.0
// Package tools pins the third-party Kubernetes tools the e2e suites build
// (e2e/k8s/build.sh); nothing of sluice itself is Go.
package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
