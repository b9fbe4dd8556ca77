//go:build tools

// SPDX-License-Identifier: Apache-2.0
// Package tools pins CoreDNS, the cluster DNS of the real-cluster tier (built
// by e2e/k8s/build.sh); a module of its own so its dependencies do not move
// Kubernetes' ones.
package tools

import (
	_ "github.com/coredns/coredns"
)
