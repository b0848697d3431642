package doctor_test

import (
	"os"
	"testing"
)

// TestMain runs the tests, then stops the benchmarks' kube-apiserver; started as
// a benchmark's child process (childEnv set), it is one doctor -A run instead.
func TestMain(m *testing.M) {
	if kubeconfig := os.Getenv(childEnv); kubeconfig != "" {
		os.Exit(doctorChild(kubeconfig))
	}
	code := m.Run()
	stopBenchCluster()
	os.Exit(code)
}
