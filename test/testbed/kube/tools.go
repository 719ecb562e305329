//go:build tools

// Package tools pins the commands that test/testbed/up builds from this module: etcd, the
// Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler) and helm.
// They share one module graph (k8s.io/* v0.34.4), so the Kubernetes libraries compile once.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
