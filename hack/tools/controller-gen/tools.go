//go:build tools

// Package tools pins controller-gen, which generates the CRD and deep-copy code
// from api/v1alpha1 (make generate).
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
