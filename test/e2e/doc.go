// Package e2e holds the end-to-end suites: each runs against a real single-node
// cluster (package cluster) that TestMain starts once and stops at the end, with the
// build tag e2e (make e2e).
package e2e
