package doctor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/registry"
)

// TestDeadRegistryCostsOneTimeout: 24 images on a registry that does not answer cost
// one registry time-out together, for the probes of failing pods' credentials and
// for the anonymous probes of running pods without credentials (ReschedulingRisk's),
// and every answer after the first says it was remembered.
func TestDeadRegistryCostsOneTimeout(t *testing.T) {
	const timeout, pods = 500 * time.Millisecond, 24
	silent, err := registry.StartSilent()
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	host := silent.Host
	secret := pullSecret("ns", "pull", corev1.SecretTypeDockerConfigJson, host, "alice", "alice-password")
	tests := []struct {
		name  string
		pod   func(i int) corev1.Pod
		creds bool // the probes carry the Secret's credential
	}{
		{"failing pods with a credential", func(i int) corev1.Pod {
			image := fmt.Sprintf("%s/team/app-%d:v1", host, i)
			return podWith(fmt.Sprintf("app-%d", i), image, backoff(`Back-off pulling image "`+image+`"`), "pull")
		}, true},
		{"running pods without credentials (anonymous probes)", func(i int) corev1.Pod {
			p := podWith(fmt.Sprintf("app-%d", i), fmt.Sprintf("%s/system/agent-%d:v1", host, i), nil)
			p.Spec.NodeName = "node-1"
			return p
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []corev1.Pod
			for i := range pods {
				ps = append(ps, tt.pod(i))
			}
			probe := RegistryProbe(&verify.Checker{Timeout: timeout}, 0)
			var mu sync.Mutex
			var answers []verify.Result
			counting := func(ctx context.Context, image string, cred *dockercfg.Credential) (verify.Result, error) {
				if (cred != nil) != tt.creds {
					t.Errorf("probe of %s with credential %v, want credential %v", image, cred != nil, tt.creds)
				}
				r, err := probe(ctx, image, cred)
				mu.Lock()
				answers = append(answers, r)
				mu.Unlock()
				return r, err
			}
			start := time.Now()
			// The dead registry is on loopback: the nodes are this machine, so it is probed.
			thisMachine := func(context.Context, string) bool { return true }
			report := Diagnose(context.Background(), snapshot(ps, secret), Options{Probe: counting, LocalNode: thisMachine})
			if d := time.Since(start); d > 3*timeout {
				t.Errorf("doctor over %d images on a dead registry took %s, want about one time-out (%s)", pods, d, timeout)
			}
			remembered := 0
			for _, r := range answers {
				if r.Outcome != verify.RegistryUnreachable {
					t.Errorf("probe answer %s (%s), want RegistryUnreachable", r.Outcome, r.Detail)
				}
				if strings.Contains(r.Detail, "remembered") {
					remembered++
				}
			}
			if len(answers) != pods || remembered != pods-1 {
				t.Errorf("%d probes, %d of them remembered; want %d, %d", len(answers), remembered, pods, pods-1)
			}
			for _, f := range report.Findings {
				if f.Code == ReschedulingRisk {
					t.Errorf("an unreachable registry says nothing of the nodes, but doctor warns: %+v", f)
				}
			}
		})
	}
}
