// Package e2enodes holds the end-to-end suites that need more than one node: TestMain
// starts a three-node cluster (node1 with registry credentials of its own and trust in
// the TLS registry, node2 with neither, node3 with a sandbox image it cannot pull),
// build tag e2e.
package e2enodes
