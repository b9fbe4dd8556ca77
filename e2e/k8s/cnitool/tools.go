//go:build tools

// SPDX-License-Identifier: Apache-2.0
// Package tools pins cnitool (the CNI project's reference runtime, which
// passes capabilities such as portMappings through CAP_ARGS) for the e2e
// suites (built by e2e/k8s/build.sh); a module of its own so its
// dependencies do not move the others'.
package tools

import (
	_ "github.com/containernetworking/cni/cnitool"
)
