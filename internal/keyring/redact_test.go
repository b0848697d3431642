package keyring

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestEntryString(t *testing.T) {
	e := Entry{Key: "docker.io", Username: "alice", Password: "hunter2", Source: "ns/pull"}
	if got, want := e.String(), "alice@docker.io from ns/pull (password redacted)"; got != want {
		t.Errorf("Entry.String() = %q, want %q", got, want)
	}
	m := Match{Entry: e, NormalizedKey: "index.docker.io", Fallback: true}
	if got, want := m.String(), `alice@docker.io from ns/pull (password redacted) as "index.docker.io" (Docker Hub fallback)`; got != want {
		t.Errorf("Match.String() = %q, want %q", got, want)
	}
}

func TestNoPasswordLeak(t *testing.T) {
	const password = "Pa55-w0rd-that-must-not-leak"
	entries := []Entry{
		{Key: "docker.io/library", Username: "alice", Password: password, Source: "ns/a"},
		{Key: "https://index.docker.io/v1/", Username: "bob", Password: password, Source: "ns/b"},
		{Key: "https://index.docker.io/v1/", Username: "carol", Password: password, Source: "/root/.docker/config.json"},
	}
	res, err := Lookup("nginx", entries)
	if err != nil {
		t.Fatalf("Lookup(%q) error = %v", "nginx", err)
	}
	fallback, err := Lookup("busybox", entries[1:])
	if err != nil {
		t.Fatalf("Lookup(%q) error = %v", "busybox", err)
	}
	if len(res.Matches) == 0 || len(res.NearMisses) == 0 || len(fallback.Matches) == 0 {
		t.Fatalf("Lookup results %v and %v lack matches or near misses to print", res, fallback)
	}
	values := map[string]any{
		"Result":           res,
		"*Result":          &res,
		"fallback Result":  fallback,
		"Match":            res.Matches[0],
		"*Match":           &res.Matches[0],
		"fallback Match":   fallback.Matches[0],
		"[]Match":          res.Matches,
		"Entry":            entries[0],
		"*Entry":           &entries[0],
		"[]Entry":          entries,
		"map[string]Entry": map[string]Entry{"k": entries[0]},
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10.3v", "%-40s"}
	forbidden := []string{password, hex.EncodeToString([]byte(password)), strings.ToUpper(hex.EncodeToString([]byte(password)))}
	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			for _, f := range forbidden {
				if strings.Contains(out, f) {
					t.Errorf("fmt.Sprintf(%q, %s) = %q, leaks the password", verb, name, out)
				}
			}
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("lookup", "value", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("lookup", "value", v)
		if strings.Contains(text.String(), password) || strings.Contains(js.String(), password) {
			t.Errorf("slog of %s = %q, %q, leaks the password", name, text.String(), js.String())
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%s) error = %v", name, err)
		}
		if strings.Contains(string(b), password) {
			t.Errorf("json.Marshal(%s) = %s, leaks the password", name, b)
		}
	}
	if got := fmt.Sprintf("%v", res.Matches[0]); !strings.Contains(got, "password redacted") || !strings.Contains(got, "alice@docker.io/library") {
		t.Errorf("fmt.Sprintf(%%v, match) = %q, want the user, key and a redaction note", got)
	}
	if got := fmt.Sprintf("%#v", res.Matches[0]); !strings.Contains(got, `NormalizedKey:"docker.io/library"`) {
		t.Errorf("fmt.Sprintf(%%#v, match) = %q, want the normalized key", got)
	}
	if entries[0].Password != password {
		t.Errorf("Entry.Password = %q after printing, want it unchanged", entries[0].Password)
	}
}

func TestLogValue(t *testing.T) {
	e := Entry{Key: "docker.io", Username: "alice", Password: "hunter2", Source: "ns/pull"}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("x", "entry", e, "match", Match{Entry: e, NormalizedKey: "docker.io"})
	out := buf.String()
	for _, want := range []string{`"entry":{"key":"docker.io","username":"alice","password":"(password redacted)","source":"ns/pull"}`, `"normalized_key":"docker.io"`, `"fallback":false`} {
		if !strings.Contains(out, want) {
			t.Errorf("slog JSON = %s, want it to contain %s", out, want)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("slog JSON = %s, leaks the password", out)
	}
}
