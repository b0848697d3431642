package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{name: "client and server", args: []string{"version"}, wantOut: []string{"Client Version: ", "Server Version: v1.37."}},
		{name: "client only", args: []string{"version", "--client"}, wantOut: []string{"Client Version: "}},
		{name: "json", args: []string{"version", "-o", "json"}, wantOut: []string{`"serverVersion": "v1.37.`}},
		{name: "yaml", args: []string{"version", "-o", "yaml"}, wantOut: []string{"serverVersion: v1.37."}},
		{name: "unknown output format", args: []string{"version", "-o", "xml"}, wantCode: 2, wantErr: `--output "xml": version prints json or yaml (or text without -o)`},
		{name: "unknown flag", args: []string{"version", "--bogus"}, wantCode: 2, wantErr: "unknown flag: --bogus"},
		{name: "stray argument", args: []string{"version", "extra"}, wantCode: 2, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout = %q, want it to contain %q", out, w)
				}
			}
			if tt.wantErr != "" && !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErr)
			}
			if tt.wantCode != 0 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr has more than one line: %q", errOut)
			}
		})
	}
	t.Run("client only does not contact the cluster", func(t *testing.T) {
		var got map[string]string
		out, errOut, code := runCmd(t, "--server", "https://127.0.0.1:1", "version", "--client", "-o", "json")
		if code != 0 {
			t.Fatalf("exit code = %d (stderr %q), want 0", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got["clientVersion"] == "" || got["serverVersion"] != "" {
			t.Errorf("version --client -o json = %v, want only clientVersion", got)
		}
	})
}
