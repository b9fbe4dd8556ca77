//go:build tools

// SPDX-License-Identifier: Apache-2.0
// Package tools pins etcd for the e2e suites (built by e2e/k8s/build.sh); a
// module of its own so its dependencies do not move Kubernetes' ones.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
