//go:build e2e

package cluster_test

import (
	"os"
	"path/filepath"
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

// livingProcesses lists the processes, zombies aside, whose command line mentions dir
// or that run the pause program: the daemons, shims and containers of a cluster.
func livingProcesses(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var left []string
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.Contains(args, dir) || strings.HasPrefix(args, "/pause") {
			left = append(left, e.Name()+" "+args)
		}
	}
	return left
}
