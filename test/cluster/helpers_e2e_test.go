//go:build e2e

package cluster_test

import (
	"strconv"
	"strings"
	"testing"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func itoa(i int) string { return strconv.Itoa(i) }
