//go:build tools

// SPDX-License-Identifier: Apache-2.0
// Package tools pins the Kubernetes components the e2e suites run (built by
// e2e/k8s/build.sh); a module of its own because k8s.io/kubernetes needs
// replace directives for its staging modules.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
