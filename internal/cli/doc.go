// Package cli holds the commands of kubectl-regcred, in kubectl's shape: each command
// has an Options struct with Complete (resolve clients and flags), Validate (pure
// checks) and Run (I/O), output through genericiooptions.IOStreams, and the
// --kubeconfig/--context/-n flags of cli-runtime.
package cli
