package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/credentialprovider"
	"github.com/regcred/regcred/internal/pullsecret"
)

// Timing of credential refreshes.
const (
	// defaultCacheDuration is a credential's lifetime when the plugin gives none and
	// the spec has no defaultCacheDuration.
	defaultCacheDuration = 10 * time.Minute
	// minRetry is the first wait after a failed run of a plugin, and the shortest
	// wait between two runs.
	minRetry = time.Second
	// DefaultMinCredentialRefresh is the shortest wait after a successful run: each
	// new credential rewrites the copy in every namespace, so a plugin whose
	// credentials live a few seconds would otherwise have regcred write to the API
	// server without pause.
	DefaultMinCredentialRefresh = 10 * time.Second
	// maxBackoff caps the wait between retries of a failing plugin.
	maxBackoff = 5 * time.Minute
	// tokenLifetime is the lifetime of the ServiceAccount tokens given to plugins:
	// the least the TokenRequest API grants.
	tokenLifetime = 10 * time.Minute
)

// errCredentialProvider is wrapped by the error of a credentialProvider source that
// has no valid credential to serve.
var errCredentialProvider = errors.New("credential provider gave no valid credential")

// credentials mints the credentials of credentialProvider sources: one minter per
// ClusterPullSecret, never one per namespace, started when its source is first asked
// for. Each runs the plugin, keeps the last good credential until it expires, and
// runs it again at about half of what remains of the credential's lifetime, or with
// back-off after a failure.
type credentials struct {
	binDir string
	tokens corev1client.ServiceAccountsGetter
	// minRefresh is the shortest wait after a successful run.
	minRefresh time.Duration
	// expiry and runs are regcred_credential_expiry_timestamp_seconds and
	// regcred_credential_provider_runs_total.
	expiry *prometheus.GaugeVec
	runs   *prometheus.CounterVec
	// changed is called with a ClusterPullSecret's name after each run of its plugin,
	// and when its credential expires.
	changed func(cps string)

	mu      sync.Mutex
	minters map[string]*minter
}

func newCredentials(binDir string, tokens corev1client.ServiceAccountsGetter, minRefresh time.Duration, changed func(string)) *credentials {
	if minRefresh <= 0 {
		minRefresh = DefaultMinCredentialRefresh
	}
	return &credentials{
		binDir: binDir, tokens: tokens, minRefresh: max(minRefresh, minRetry), changed: changed, minters: map[string]*minter{},
		expiry: register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "regcred_credential_expiry_timestamp_seconds",
			Help: "When the credential a ClusterPullSecret's credential provider minted, and its copies hold, expires (Unix time).",
		}, []string{"cluster_pull_secret"})),
		runs: register(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regcred_credential_provider_runs_total",
			Help: "Runs of a ClusterPullSecret's credential provider plugin, by result (success, failure).",
		}, []string{"cluster_pull_secret", "result"})),
	}
}

// register registers a collector with controller-runtime's registry, or returns the
// one registered before under the same name (tests start several managers).
func register[T prometheus.Collector](c T) T {
	var are prometheus.AlreadyRegisteredError
	if err := metrics.Registry.Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}

// minter keeps one ClusterPullSecret's credential fresh.
type minter struct {
	cps  string
	spec v1alpha1.CredentialProviderSource
	key  string // the spec as JSON: a changed spec gets a new minter
	stop context.CancelFunc

	mu        sync.Mutex
	attempted bool
	content   *pullsecret.Content
	mintedAt  time.Time
	expiresAt time.Time
	lastErr   error
	passwords []string // of the credentials minted, redacted from later errors
}

// Get returns the state of the ClusterPullSecret's credentialProvider source,
// starting its minter on first use. Synced is false until the plugin has run once;
// Content is the last good credential while it is valid, with RefreshErr when the
// last run failed; once it has expired, or when there never was one, Err says why.
func (c *credentials) Get(ctx context.Context, cps *v1alpha1.ClusterPullSecret) sourceState {
	m := c.ensure(ctx, cps)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.attempted {
		return sourceState{}
	}
	st := sourceState{Synced: true, Found: true}
	now := time.Now()
	switch {
	case m.content != nil && now.Before(m.expiresAt):
		st.Content, st.RefreshErr = m.content, m.lastErr
		st.MintedAt, st.ExpiresAt = m.mintedAt, m.expiresAt
	case m.content != nil:
		last := m.lastErr
		if last == nil {
			last = errors.New("no run since") // a lifetime shorter than the least wait between runs
		}
		st.Err = fmt.Errorf("%w: the credential minted at %s expired at %s; last run: %w", errCredentialProvider,
			m.mintedAt.UTC().Format(time.RFC3339), m.expiresAt.UTC().Format(time.RFC3339), last)
		st.MintedAt, st.ExpiresAt = m.mintedAt, m.expiresAt
	default:
		st.Err = fmt.Errorf("%w: %w", errCredentialProvider, m.lastErr)
	}
	return st
}

func (c *credentials) ensure(ctx context.Context, cps *v1alpha1.ClusterPullSecret) *minter {
	spec := *cps.Spec.Source.CredentialProvider
	b, _ := json.Marshal(spec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.minters[cps.Name]; ok {
		if m.key == string(b) {
			return m
		}
		m.stop()
	}
	mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m := &minter{cps: cps.Name, spec: spec, key: string(b), stop: stop}
	c.minters[cps.Name] = m
	go c.run(mctx, m)
	return m
}

// Retain stops the minters of ClusterPullSecrets that are gone, deleting, or no
// longer have a credentialProvider source.
func (c *credentials) Retain(list []v1alpha1.ClusterPullSecret) {
	keep := map[string]bool{}
	for i := range list {
		if list[i].Spec.Source.CredentialProvider != nil && list[i].DeletionTimestamp == nil {
			keep[list[i].Name] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, m := range c.minters {
		if !keep[name] {
			m.stop()
			delete(c.minters, name)
			c.expiry.DeleteLabelValues(name)
			c.runs.DeletePartialMatch(prometheus.Labels{"cluster_pull_secret": name})
		}
	}
}

// StopAll stops every minter.
func (c *credentials) StopAll() { c.Retain(nil) }

// run runs the plugin, then again at about half of what remains of the credential's
// lifetime (with ±10% jitter) but not sooner than minRefresh, or after a failure with
// back-off from a second up to five minutes, but never later than half of what
// remains of the last good credential, so that it is retried several times before
// it expires.
func (c *credentials) run(ctx context.Context, m *minter) {
	backoff := minRetry
	for {
		content, life, err := c.mint(ctx, m)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		var wait time.Duration
		m.mu.Lock()
		m.attempted = true
		m.lastErr = err
		if err == nil {
			m.content, m.mintedAt, m.expiresAt = content, now, now.Add(life)
			backoff = minRetry
			wait = max(jitter(life/2), c.minRefresh)
			c.runs.WithLabelValues(m.cps, "success").Inc()
			c.expiry.WithLabelValues(m.cps).Set(float64(m.expiresAt.Unix()))
		} else {
			wait, backoff = backoff, min(2*backoff, maxBackoff)
			if m.content != nil && now.Before(m.expiresAt) {
				wait = min(wait, m.expiresAt.Sub(now)/2)
			}
			c.runs.WithLabelValues(m.cps, "failure").Inc()
		}
		wait = max(wait, minRetry)
		expiresAt := m.expiresAt
		m.mu.Unlock()
		c.changed(m.cps)

		next := now.Add(wait)
		if now.Before(expiresAt) && expiresAt.Before(next) {
			// Say so when the credential expires before the next run.
			if !sleep(ctx, time.Until(expiresAt)) {
				return
			}
			c.changed(m.cps)
		}
		if !sleep(ctx, time.Until(next)) {
			return
		}
	}
}

// mint runs the plugin once and returns the content of the copies and the
// credential's lifetime.
func (c *credentials) mint(ctx context.Context, m *minter) (*pullsecret.Content, time.Duration, error) {
	s := m.spec
	p := credentialprovider.Plugin{BinDir: c.binDir, Name: s.Name, Args: s.Args}
	for _, e := range s.Env {
		p.Env = append(p.Env, credentialprovider.EnvVar{Name: e.Name, Value: e.Value})
	}
	if s.Timeout != nil {
		p.Timeout = s.Timeout.Duration
	}
	req := credentialprovider.Request{Image: s.Image}
	if t := s.ServiceAccountToken; t != nil {
		// The ServiceAccount's owner must have opted in: a token is minted only for
		// the ClusterPullSecrets its annotation names.
		sa, err := c.tokens.ServiceAccounts(t.Namespace).Get(ctx, t.ServiceAccountName, metav1.GetOptions{})
		if err != nil {
			return nil, 0, fmt.Errorf("read ServiceAccount %s/%s for the plugin's token: %w", t.Namespace, t.ServiceAccountName, err)
		}
		if !slices.Contains(strings.Split(strings.ReplaceAll(sa.Annotations[v1alpha1.AnnotationTokenFor], " ", ""), ","), m.cps) {
			return nil, 0, fmt.Errorf("ServiceAccount %s/%s does not let regcred request its tokens for ClusterPullSecret %s: annotate it %s=%s (comma-separate several)",
				t.Namespace, t.ServiceAccountName, m.cps, v1alpha1.AnnotationTokenFor, m.cps)
		}
		tr, err := c.tokens.ServiceAccounts(t.Namespace).CreateToken(ctx, t.ServiceAccountName, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{t.Audience}, ExpirationSeconds: ptr.To(int64(tokenLifetime.Seconds()))},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, 0, fmt.Errorf("request a token of ServiceAccount %s/%s for the plugin: %w", t.Namespace, t.ServiceAccountName, err)
		}
		req.ServiceAccountToken = tr.Status.Token
	}
	m.mu.Lock()
	known := m.passwords
	m.mu.Unlock()
	cred, err := p.Run(ctx, req, known...)
	if err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	// The last few are enough: older ones are no longer valid anywhere.
	m.passwords = append(m.passwords[max(0, len(m.passwords)-8):], cred.Passwords...)
	m.mu.Unlock()
	life := cred.CacheDuration
	if life <= 0 {
		life = defaultCacheDuration
		if s.DefaultCacheDuration != nil && s.DefaultCacheDuration.Duration > 0 {
			life = s.DefaultCacheDuration.Duration
		}
	}
	sum := sha256.Sum256(cred.DockerConfigJSON)
	return &pullsecret.Content{
		DockerConfigJSON: cred.DockerConfigJSON,
		Hash:             hex.EncodeToString(sum[:]),
		// No source Secret: the regcred.dev/source annotation stays empty, so that
		// doctor and create, which read it as namespace/name, point at none.
		Source: "",
	}, life, nil
}

// jitter spreads d by ±10%.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Of returns the state of the ClusterPullSecret's source: its Secret, or its
// credential provider's last good credential.
func (s *sources) Of(ctx context.Context, cps *v1alpha1.ClusterPullSecret) sourceState {
	if cps.Spec.Source.CredentialProvider != nil {
		return s.creds.Get(ctx, cps)
	}
	return s.Get(ctx, sourceKey(cps))
}

// credentialChanged asks for a reconcile of the ClusterPullSecret whose credential
// was minted, failed to be, or expired.
func (r *cpsReconciler) credentialChanged(cps string) {
	if q := r.self.Load(); q != nil {
		(*q).Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: cps}})
	}
}

// credentialStatus is status.credential for a credentialProvider source.
func credentialStatus(cps *v1alpha1.ClusterPullSecret, src sourceState) *v1alpha1.CredentialStatus {
	if cps.Spec.Source.CredentialProvider == nil || src.ExpiresAt.IsZero() {
		return nil
	}
	exp, minted := metav1.NewTime(src.ExpiresAt.Truncate(time.Second)), metav1.NewTime(src.MintedAt.Truncate(time.Second))
	return &v1alpha1.CredentialStatus{ExpiresAt: &exp, MintedAt: &minted}
}

// credentialConditions says Degraded for a credentialProvider source that failed:
// with no valid credential (Ready false), or on a refresh while the last good
// credential is still served (Ready from the namespaces). ok is false when the
// source has nothing to say.
func credentialConditions(cps *v1alpha1.ClusterPullSecret, src sourceState) (reason, message string, ok bool) {
	cp := cps.Spec.Source.CredentialProvider
	switch {
	case cp == nil:
		return "", "", false
	case src.Err != nil:
		return v1alpha1.ReasonCredentialProviderFailed, src.Err.Error() + "; existing copies are left as they are; retried with back-off", true
	case src.RefreshErr != nil:
		return v1alpha1.ReasonCredentialRefreshFailed, fmt.Sprintf("refresh failed, retried with back-off; the copies keep the credential minted at %s until it expires at %s: %v",
			src.MintedAt.UTC().Format(time.RFC3339), src.ExpiresAt.UTC().Format(time.RFC3339), src.RefreshErr), true
	}
	return "", "", false
}

// credentialHealthy is the Degraded=False message of a credentialProvider source.
func credentialHealthy(cps *v1alpha1.ClusterPullSecret) string {
	cp := cps.Spec.Source.CredentialProvider
	return fmt.Sprintf("credential provider %s gives a credential for %s", cp.Name, cp.Image)
}
