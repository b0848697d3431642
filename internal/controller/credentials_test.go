package controller_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/controller"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/credplugin"
)

// pluginDir holds the test credential provider plugin, once a test has asked for it
// with buildPlugin; startController passes it as --credential-provider-bin-dir.
var (
	pluginDir  string
	pluginOnce sync.Once
	pluginErr  error
)

func buildPlugin(t testing.TB) {
	t.Helper()
	pluginOnce.Do(func() {
		dir, err := os.MkdirTemp("", "regcred-credplugin-")
		if err != nil {
			pluginErr = err
			return
		}
		pluginDir = dir
		_, pluginErr = credplugin.Build(context.Background(), dir)
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
}

// pluginRun is one run of the plugin as its log records it.
type pluginRun struct {
	Image               string `json:"image"`
	ServiceAccountToken string `json:"serviceAccountToken"`
}

func pluginRuns(t testing.TB, log string) []pluginRun {
	t.Helper()
	f, err := os.Open(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []pluginRun
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r pluginRun
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	return runs
}

// credentialSource is a credentialProvider source with the test plugin, whose mode
// is read from modeFile at every run and whose runs are appended to log.
func credentialSource(image, modeFile, log string, cache time.Duration, env ...v1alpha1.CredentialProviderEnvVar) func(*v1alpha1.ClusterPullSecret) {
	return func(c *v1alpha1.ClusterPullSecret) {
		c.Spec.Source = v1alpha1.Source{CredentialProvider: &v1alpha1.CredentialProviderSource{
			Name:  credplugin.Name,
			Image: image,
			Env: append([]v1alpha1.CredentialProviderEnvVar{
				{Name: credplugin.EnvModeFile, Value: modeFile},
				{Name: credplugin.EnvLog, Value: log},
				{Name: credplugin.EnvUsername, Value: "robot"},
				{Name: credplugin.EnvCacheDuration, Value: cache.String()},
			}, env...),
			Timeout: &metav1.Duration{Duration: time.Second},
		}}
	}
}

// copyOf returns a copy's UID and the password of its one entry.
func copyOf(ns, name string) (types.UID, string, error) {
	s, err := kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	cfg, err := dockercfg.FromSecret(s)
	if err != nil {
		return "", "", err
	}
	if len(cfg.Entries) != 1 {
		return "", "", fmt.Errorf("copy %s/%s has %d entries", ns, name, len(cfg.Entries))
	}
	return s.UID, cfg.Entries[0].Password, nil
}

func condition(t testing.TB, name, typ string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(getCPS(t, name).Status.Conditions, typ)
	if c == nil {
		return metav1.Condition{}
	}
	return *c
}

// expiryMetric reads regcred_credential_expiry_timestamp_seconds of the
// ClusterPullSecret from the in-process controller's registry.
func expiryMetric(t testing.TB, cps string) float64 {
	t.Helper()
	v, ok := metricOf(t, "regcred_credential_expiry_timestamp_seconds", cps)
	if !ok {
		t.Fatalf("no regcred_credential_expiry_timestamp_seconds for %s", cps)
	}
	return v
}

// A plugin that fails, hangs past its time limit, or prints malformed JSON: the
// controller stays up, says Degraded with the plugin's redacted stderr, keeps the
// last good credential in the copies (same UID, same content) until it expires, says
// so when it has, and takes the plugin's next good credential in place.
func TestCredentialProviderFaults(t *testing.T) {
	buildPlugin(t)
	t.Cleanup(startController(t)) // after the parallel subtests
	const cache = 4 * time.Second
	tests := []struct {
		name, mode string
		inMessage  string
		notIn      string
	}{
		{name: "fails", mode: credplugin.ModeFail, inMessage: "password=REDACTED", notIn: "hunter2"},
		{name: "hangs", mode: credplugin.ModeHang, inMessage: "killed at its time limit of 1s"},
		{name: "malformed", mode: credplugin.ModeMalformed, inMessage: "not a JSON CredentialProviderResponse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := "cred-" + tt.name
			dir := t.TempDir()
			modeFile, log := filepath.Join(dir, "mode"), filepath.Join(dir, "runs")
			setMode := func(m string) {
				if err := os.WriteFile(modeFile, []byte(m), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			setMode(credplugin.ModeOK)
			var nss []string
			for i := range 3 {
				ns := fmt.Sprintf("%s-%d", name, i)
				nss = append(nss, ns)
				makeNamespace(t, ns, map[string]string{"test": name})
				makeServiceAccount(t, ns, "default")
			}
			makeCPS(t, name, "", "", func(c *v1alpha1.ClusterPullSecret) {
				selectTest(name)(c)
				credentialSource("reg.example.com:5000/team/app", modeFile, log, cache)(c)
			})
			defer deleteCPS(t, name)

			// Minted, copied, and its expiry in status.
			uids := map[string]types.UID{}
			var first string
			eventually(t, waitFor, "first credential in every namespace", func() error {
				for _, ns := range nss {
					uid, pw, err := copyOf(ns, name)
					if err != nil {
						return err
					}
					if first == "" {
						first = pw
					}
					if pw != first {
						return fmt.Errorf("%s holds another credential", ns)
					}
					uids[ns] = uid
				}
				return refs(nss[0], "default", name)
			})
			// Status is written in batches (up to 250 ms after the copies).
			var cs *v1alpha1.CredentialStatus
			eventually(t, waitFor, "status.credential", func() error {
				cs = getCPS(t, name).Status.Credential
				if cs == nil || cs.ExpiresAt == nil || cs.MintedAt == nil {
					return fmt.Errorf("status.credential = %+v", cs)
				}
				return nil
			})
			if life := cs.ExpiresAt.Sub(cs.MintedAt.Time); life < cache-time.Second || life > cache+time.Second {
				t.Errorf("status says the credential lives %s, the plugin said %s", life, cache)
			}
			if got, want := expiryMetric(t, name), float64(cs.ExpiresAt.Unix()); got < want-1 || got > want+1 {
				t.Errorf("regcred_credential_expiry_timestamp_seconds %v, status says %v", got, want)
			}

			// Refreshed before it expires, in place.
			eventually(t, waitFor, "a refreshed credential in every namespace, in place", func() error {
				for _, ns := range nss {
					uid, pw, err := copyOf(ns, name)
					if err != nil {
						return err
					}
					if pw == first {
						return fmt.Errorf("%s still holds the first credential", ns)
					}
					if uid != uids[ns] {
						return fmt.Errorf("copy in %s was recreated", ns)
					}
				}
				return nil
			})

			// The plugin breaks: Degraded, the last good credential served.
			setMode(tt.mode)
			var last string
			var expires time.Time
			eventually(t, waitFor, "Degraded with the plugin's error", func() error {
				c := condition(t, name, v1alpha1.ConditionDegraded)
				if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonCredentialRefreshFailed {
					return fmt.Errorf("Degraded %s %s: %s", c.Status, c.Reason, c.Message)
				}
				if !strings.Contains(c.Message, tt.inMessage) {
					return fmt.Errorf("message %q lacks %q", c.Message, tt.inMessage)
				}
				if tt.notIn != "" && strings.Contains(c.Message, tt.notIn) {
					t.Fatalf("message %q shows %q", c.Message, tt.notIn)
				}
				if r := condition(t, name, v1alpha1.ConditionReady); r.Status != metav1.ConditionTrue {
					return fmt.Errorf("Ready %s while the last good credential is valid: %s", r.Status, r.Message)
				}
				cps := getCPS(t, name)
				expires = cps.Status.Credential.ExpiresAt.Time
				_, pw, err := copyOf(nss[0], name)
				last = pw
				return err
			})
			if last == first {
				t.Errorf("the copies went back to an earlier credential")
			}
			// Until it expires, the copies keep it.
			for time.Now().Before(expires.Add(-500 * time.Millisecond)) {
				for _, ns := range nss {
					uid, pw, err := copyOf(ns, name)
					if err != nil {
						t.Fatal(err)
					}
					if pw != last || uid != uids[ns] {
						t.Fatalf("copy in %s changed while the plugin fails", ns)
					}
				}
				time.Sleep(200 * time.Millisecond)
			}
			// Expired: said so; copies left as they are.
			eventually(t, waitFor, "expiry in status", func() error {
				c := condition(t, name, v1alpha1.ConditionDegraded)
				if c.Reason != v1alpha1.ReasonCredentialProviderFailed || !strings.Contains(c.Message, "expired at") {
					return fmt.Errorf("Degraded %s %s: %s", c.Status, c.Reason, c.Message)
				}
				if r := condition(t, name, v1alpha1.ConditionReady); r.Status != metav1.ConditionFalse {
					return fmt.Errorf("Ready %s after expiry", r.Status)
				}
				return nil
			})
			for _, ns := range nss {
				if uid, pw, err := copyOf(ns, name); err != nil || pw != last || uid != uids[ns] {
					t.Errorf("copy in %s changed after expiry (%v)", ns, err)
				}
			}
			// Retried with back-off, not in a loop: a handful of runs over the fault.
			runs := len(pluginRuns(t, log))

			// The plugin recovers: a new credential, in place, and healthy again.
			setMode(credplugin.ModeOK)
			eventually(t, waitFor, "recovered", func() error {
				if c := condition(t, name, v1alpha1.ConditionDegraded); c.Status != metav1.ConditionFalse {
					return fmt.Errorf("Degraded %s %s: %s", c.Status, c.Reason, c.Message)
				}
				for _, ns := range nss {
					uid, pw, err := copyOf(ns, name)
					if err != nil {
						return err
					}
					if pw == last || uid != uids[ns] {
						return fmt.Errorf("copy in %s not refreshed in place", ns)
					}
				}
				return nil
			})
			if runs > 20 {
				t.Errorf("%d runs of the plugin in about %s", runs, 3*cache)
			}
		})
	}
}

// A plugin that takes a ServiceAccount token gets one from the TokenRequest API, for
// the audience of the spec.
func TestCredentialProviderServiceAccountToken(t *testing.T) {
	buildPlugin(t)
	defer startController(t)()
	const name = "cred-satoken"
	dir := t.TempDir()
	modeFile, log := filepath.Join(dir, "mode"), filepath.Join(dir, "runs")
	makeNamespace(t, name+"-src", nil)
	makeServiceAccount(t, name+"-src", "puller")
	makeNamespace(t, name+"-0", map[string]string{"test": name})
	// Without the ServiceAccount's consent, no token and no credential.
	makeCPS(t, name+"-nope", "", "", func(c *v1alpha1.ClusterPullSecret) {
		selectTest(name)(c)
		credentialSource("reg.example.com/app", filepath.Join(dir, "mode-nope"), filepath.Join(dir, "runs-nope"), time.Hour)(c)
		c.Spec.SecretName = name + "-nope"
		c.Spec.Source.CredentialProvider.ServiceAccountToken = &v1alpha1.CredentialProviderServiceAccountToken{
			Namespace: name + "-src", ServiceAccountName: "puller", Audience: "sts.example.com",
		}
	})
	defer deleteCPS(t, name+"-nope")
	eventually(t, waitFor, "Degraded without consent", func() error {
		if reason, msg := degradedReason(t, name+"-nope"); !strings.Contains(msg, v1alpha1.AnnotationTokenFor) {
			return fmt.Errorf("Degraded %s: %s", reason, msg)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dir, "runs-nope")); err == nil {
		t.Error("the plugin ran without the ServiceAccount's consent")
	}
	sa, err := kube.CoreV1().ServiceAccounts(name+"-src").Get(context.Background(), "puller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa.Annotations = map[string]string{v1alpha1.AnnotationTokenFor: "other, " + name}
	if _, err := kube.CoreV1().ServiceAccounts(name+"-src").Update(context.Background(), sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeServiceAccount(t, name+"-0", "default")
	makeCPS(t, name, "", "", func(c *v1alpha1.ClusterPullSecret) {
		selectTest(name)(c)
		credentialSource("reg.example.com/app", modeFile, log, time.Hour)(c)
		c.Spec.Source.CredentialProvider.ServiceAccountToken = &v1alpha1.CredentialProviderServiceAccountToken{
			Namespace: name + "-src", ServiceAccountName: "puller", Audience: "sts.example.com",
		}
	})
	defer deleteCPS(t, name)
	eventually(t, waitFor, "copy", func() error { _, _, err := copyOf(name+"-0", name); return err })
	runs := pluginRuns(t, log)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	parts := strings.Split(runs[0].ServiceAccountToken, ".")
	if len(parts) != 3 {
		t.Fatalf("the plugin got no JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string   `json:"sub"`
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != "system:serviceaccount:"+name+"-src:puller" || len(claims.Aud) != 1 || claims.Aud[0] != "sts.example.com" {
		t.Errorf("token for %s, audience %v", claims.Sub, claims.Aud)
	}
	if runs[0].Image != "reg.example.com/app" {
		t.Errorf("request for image %q", runs[0].Image)
	}
}

// The schema takes exactly one source, and a plugin name that is a file name.
func TestCredentialProviderValidation(t *testing.T) {
	ok := func(c *v1alpha1.ClusterPullSecret) {
		c.Spec.Source = v1alpha1.Source{CredentialProvider: &v1alpha1.CredentialProviderSource{Name: "ecr-credential-provider", Image: "x.example.com/a"}}
	}
	tests := []struct {
		name    string
		mutate  func(*v1alpha1.ClusterPullSecret)
		wantErr string
	}{
		{"credential provider", ok, ""},
		{"both", func(c *v1alpha1.ClusterPullSecret) {
			ok(c)
			c.Spec.Source.SecretRef = &v1alpha1.SecretReference{Namespace: "a", Name: "b"}
		}, "exactly one of source.secretRef and source.credentialProvider"},
		{"neither", func(c *v1alpha1.ClusterPullSecret) { c.Spec.Source = v1alpha1.Source{} }, "exactly one of"},
		{"path", func(c *v1alpha1.ClusterPullSecret) { ok(c); c.Spec.Source.CredentialProvider.Name = "../../bin/sh" }, "spec.source.credentialProvider.name"},
		{"dot dot", func(c *v1alpha1.ClusterPullSecret) { ok(c); c.Spec.Source.CredentialProvider.Name = ".." }, "spec.source.credentialProvider.name"},
		{"long timeout", func(c *v1alpha1.ClusterPullSecret) {
			ok(c)
			c.Spec.Source.CredentialProvider.Timeout = &metav1.Duration{Duration: time.Hour}
		}, "timeout is at most 5m"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &v1alpha1.ClusterPullSecret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cred-valid-%d", i)}}
			tt.mutate(c)
			err := cl.Create(context.Background(), c, client.DryRunAll)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

// BenchmarkCredentialMints1000 measures, with 1,000 target namespaces, how many times
// a credentialProvider source's plugin runs per refresh period (the credential's
// lifetime is 6 s, so a refresh every 3 s ± 10%): 1, since it is minted once per
// ClusterPullSecret and copied; and how each refresh reaches the copies: updates per
// refresh (1,000, one per namespace), copies recreated (0), and the time from the
// plugin's run until the last copy holds the new credential.
func BenchmarkCredentialMints1000(b *testing.B) {
	const n, cache = 1000, 6 * time.Second
	buildPlugin(b)
	ctx := context.Background()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("cbench-%04d", i))
	}
	parallel(b, 32, names, func(ns string) error {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"test": "cbench"}}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		return err
	})
	stop := startController(b)
	defer stop()
	dir := b.TempDir()
	modeFile, log := filepath.Join(dir, "mode"), filepath.Join(dir, "runs")
	synced := watchSynced(b, "cbench", n)
	makeCPS(b, "cbench", "", "", func(c *v1alpha1.ClusterPullSecret) {
		selectTest("cbench")(c)
		credentialSource("reg.example.com/app", modeFile, log, cache)(c)
	})
	select {
	case <-synced:
	case <-time.After(2 * time.Minute):
		b.Fatal("1,000 namespaces not synced within 2 minutes")
	}

	// Watch the copies over several refresh periods.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kube.CoreV1().Secrets("").Watch(wctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelClusterPullSecret + "=cbench", ResourceVersion: "0"})
	if err != nil {
		b.Fatal(err)
	}
	runs0 := len(pluginRuns(b, log))
	const window = 5 * cache
	start := time.Now()
	var updates, recreated int
	lastByHash := map[string]time.Time{} // content hash -> when its last copy arrived
	firstByHash := map[string]time.Time{}
	seen := map[string]bool{}
	deadline := time.After(window)
loop:
	for {
		select {
		case e := <-w.ResultChan():
			s, ok := e.Object.(*corev1.Secret)
			if !ok {
				continue
			}
			h := s.Annotations[v1alpha1.AnnotationContentHash]
			switch e.Type {
			case "ADDED":
				if seen[s.Namespace] {
					recreated++
				}
				seen[s.Namespace] = true
			case "MODIFIED":
				updates++
				if _, ok := firstByHash[h]; !ok {
					firstByHash[h] = time.Now()
				}
				lastByHash[h] = time.Now()
			case "DELETED":
				recreated++
			}
		case <-deadline:
			break loop
		}
	}
	elapsed := time.Since(start)
	mints := len(pluginRuns(b, log)) - runs0
	periods := elapsed.Seconds() / (cache / 2).Seconds()
	var spreads []time.Duration
	for h, first := range firstByHash {
		spreads = append(spreads, lastByHash[h].Sub(first))
	}
	worst := time.Duration(0)
	for _, s := range spreads {
		worst = max(worst, s)
	}
	b.ReportMetric(float64(mints)/periods, "mints/period")
	b.ReportMetric(float64(updates)/float64(max(mints, 1)), "updates/refresh")
	b.ReportMetric(float64(recreated), "recreated")
	b.ReportMetric(worst.Seconds(), "refresh-fanout-s")
	b.Logf("%d plugin runs in %s (%.1f refresh periods of %s) for %d namespaces; %d copy updates, %d recreated; slowest refresh reached all copies in %s",
		mints, elapsed.Round(time.Millisecond), periods, cache/2, n, updates, recreated, worst)
	for range b.N {
	}
}

// A plugin whose credentials live 2 s is run at most once per MinCredentialRefresh
// (3 s here), not every second: each credential rewrites every copy.
func TestCredentialRefreshFloor(t *testing.T) {
	buildPlugin(t)
	const floor = 3 * time.Second
	defer startControllerWith(t, controller.Options{MinCredentialRefresh: floor})()
	const name = "cred-floor"
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	makeNamespace(t, name+"-0", map[string]string{"test": name})
	makeServiceAccount(t, name+"-0", "default")
	makeCPS(t, name, "", "", func(c *v1alpha1.ClusterPullSecret) {
		selectTest(name)(c)
		credentialSource("reg.example.com/app", filepath.Join(dir, "mode"), log, 2*time.Second)(c)
	})
	defer deleteCPS(t, name)
	eventually(t, waitFor, "first run", func() error {
		if len(pluginRuns(t, log)) == 0 {
			return fmt.Errorf("no run yet")
		}
		return nil
	})
	start := time.Now()
	time.Sleep(4 * floor)
	runs := len(pluginRuns(t, log))
	// The first run, then one per floor at most: 5 in 4 floors. Without the floor, a
	// run every second: about 13.
	if most := int(time.Since(start)/floor) + 1; runs > most || runs < 3 {
		t.Errorf("%d runs of the plugin in %s after the first, want 3 to %d", runs, time.Since(start).Round(time.Second), most)
	}
}
