// Package images builds small container images without a container engine, for the
// registry fixtures and the test clusters: one static binary (the pause program of
// ./pause) in one layer, made distinct per name so that every image has its own digest.
package images
