// Package images builds small container images without a container engine: static Go
// binaries in one layer, made with go-containerregistry. Pause is the pause program of
// ./pause, made distinct per label so that every image has its own digest, for the
// registry fixtures and the test clusters. Regcred is regcred's own image, the
// controller and kubectl-regcred, which hack/image writes or pushes and doctor
// --probe-node runs.
package images
