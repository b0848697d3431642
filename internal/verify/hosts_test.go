package verify_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/registry"
)

func startSilent(t testing.TB) *registry.Silent {
	t.Helper()
	s, err := registry.StartSilent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestHostsUnreachableOnce: many concurrent checks of distinct images on a host that
// does not answer cost one time-out together; one connection is made; every check
// but the first says its answer was remembered, and so do later checks, at once.
func TestHostsUnreachableOnce(t *testing.T) {
	const timeout, checks = 500 * time.Millisecond, 24
	silent := startSilent(t)
	tests := []struct {
		name, host, detail string
		silent             *registry.Silent // counts the connections
	}{
		{"accepts and never answers", silent.Host, "timeout", silent},
		{"connection refused", refusedAddr(t), "connection refused", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := verify.Checker{Timeout: timeout, Hosts: &verify.Hosts{}}
			results := make([]verify.Result, checks)
			start := time.Now()
			var wg sync.WaitGroup
			for i := range checks {
				wg.Go(func() {
					r, err := c.Check(context.Background(), tt.host+fmt.Sprintf("/team/app-%d:v1", i), cred("alice", alicePass), true)
					if err != nil {
						t.Error(err)
					}
					results[i] = r
				})
			}
			wg.Wait()
			if d := time.Since(start); d > 3*timeout {
				t.Errorf("%d concurrent checks took %s, want about one time-out (%s)", checks, d, timeout)
			}
			remembered := 0
			var all []verify.Result
			for _, r := range results {
				all = append(all, r, *r.Anonymous)
			}
			for _, r := range all {
				if r.Outcome != verify.RegistryUnreachable || !strings.Contains(r.Detail, tt.detail) {
					t.Errorf("Check = %s (%s), want RegistryUnreachable with %q", r.Outcome, r.Detail, tt.detail)
				}
				if strings.Contains(r.Detail, "remembered") {
					remembered++
				}
			}
			if want := 2*checks - 1; remembered != want {
				t.Errorf("%d answers say they were remembered, want %d (all but the first)", remembered, want)
			}
			if tt.silent != nil && tt.silent.Accepted() != 1 {
				t.Errorf("the host got %d connections, want 1", tt.silent.Accepted())
			}
			start = time.Now()
			r, err := c.Check(context.Background(), tt.host+"/other:v1", nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); r.Outcome != verify.RegistryUnreachable || !strings.Contains(r.Detail, "remembered") || d > timeout/2 {
				t.Errorf("later Check = %s (%s) in %s, want the remembered RegistryUnreachable at once", r.Outcome, r.Detail, d)
			}
		})
	}
}

// TestHostsCallerGaveUp: a check its caller gave up on teaches nothing; the next
// check asks the host again.
func TestHostsCallerGaveUp(t *testing.T) {
	silent := startSilent(t)
	c := verify.Checker{Timeout: 5 * time.Second, Hosts: &verify.Hosts{}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if r, err := c.Check(ctx, silent.Host+"/team/app:v1", nil, false); err != nil || r.Outcome != verify.RegistryUnreachable {
		t.Fatalf("Check = %+v, %v; want RegistryUnreachable", r, err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	r, err := c.Check(ctx2, silent.Host+"/team/app:v1", nil, false)
	if err != nil || r.Outcome != verify.RegistryUnreachable || strings.Contains(r.Detail, "remembered") {
		t.Errorf("second Check = %+v, %v; want RegistryUnreachable, not remembered", r, err)
	}
	if n := silent.Accepted(); n != 2 {
		t.Errorf("the host got %d connections, want 2: a check given up by its caller must not be remembered", n)
	}
}

// TestHostsRemembersOnlyUnreachable: with one memory shared by every case, each
// answer is what a fresh checker gets: refusals, errors, certificates and plain-HTTP
// fallbacks are asked again each time.
func TestHostsRemembersOnlyUnreachable(t *testing.T) {
	f := startFixtures(t)
	hosts := &verify.Hosts{}
	tests := []struct {
		name  string
		image string
		cred  *dockercfg.Credential
		trust bool
		want  verify.Outcome
	}{
		{"basic: wrong password", f.basic.Ref("team/app:v1"), cred("alice", "wrong-password-0000"), false, verify.CredentialRejected},
		{"basic: right password after a wrong one", f.basic.Ref("team/app:v1"), cred("alice", alicePass), false, verify.OK},
		{"token: wrong password", f.token.Ref("team/app:v1"), cred("alice", "wrong-password-0000"), false, verify.CredentialRejected},
		{"token: right password after a wrong one", f.token.Ref("team/app:v1"), cred("alice", alicePass), false, verify.OK},
		{"tls: untrusted", f.tls.Ref("team/app:v1"), nil, false, verify.RegistryTLSError},
		{"tls: trusted after untrusted", f.tls.Ref("team/app:v1"), nil, true, verify.OK},
		{"plain HTTP after the HTTPS attempt", f.open.Ref("team/app:v1"), nil, false, verify.OK},
		{"plain HTTP again", f.open.Ref("team/app:v1"), nil, false, verify.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := verify.Checker{Hosts: hosts}
			if tt.trust {
				c.RootCAs = f.tls.CertPool()
			}
			got, err := c.Check(context.Background(), tt.image, tt.cred, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.want || strings.Contains(got.Detail, "remembered") {
				t.Errorf("Check(%s) = %s (%s), want %s, not remembered", tt.image, got.Outcome, got.Detail, tt.want)
			}
		})
	}
}
