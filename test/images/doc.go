// Package images builds small container images without a container engine, for the
// registry fixtures and the test clusters: one static binary in one layer (the pause
// program of ./pause, made distinct per label so that every image has its own digest,
// or kubectl-regcred itself for doctor --probe-node).
package images
