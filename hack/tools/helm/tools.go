//go:build tools

// Package tools pins helm, which lints and renders charts/regcred in the tests
// (make helm builds it into bin/helm).
package tools

import _ "helm.sh/helm/v4/cmd/helm"
