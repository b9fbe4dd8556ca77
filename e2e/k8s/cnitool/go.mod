module sluice.example/e2e/k8s/cnitool

go 1.24.0

require github.com/containernetworking/cni v1.2.3
