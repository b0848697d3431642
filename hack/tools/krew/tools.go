//go:build tools

// Package tools pins krew: its manifest validator (validate-krew-manifest) and krew
// itself, whose `install --manifest --archive` installs each platform of the
// generated plugin manifest from the local archives (make release).
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
