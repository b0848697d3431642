package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/verify"
)

// Probe asks the registry whether image can be pulled with cred (nil: anonymously).
type Probe func(ctx context.Context, image string, cred *dockercfg.Credential) (verify.Result, error)

// Options tune Diagnose.
type Options struct {
	// Probe checks images at registries; nil means offline: no registry traffic,
	// the kubelet's words alone say the cause.
	Probe Probe
	// Concurrency bounds the probes under way at once (default 8).
	Concurrency int
	// Static treats every container as about to pull: for manifests on disk, which
	// have no status and no events.
	Static bool
}

// Summary counts what Diagnose found.
type Summary struct {
	Pods           int          `json:"pods"`
	PodsWithErrors int          `json:"podsWithErrors"`
	Errors         int          `json:"errors"`
	Warnings       int          `json:"warnings"`
	Probes         int          `json:"registryProbes"`
	Requests       int          `json:"apiRequests"`
	Codes          map[Code]int `json:"codes"`
}

// Report is the outcome of a diagnosis.
type Report struct {
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// podCreds is what the pod's Secrets give the kubelet.
type podCreds struct {
	entries  []keyring.Entry
	findings []Finding // about the Secrets themselves
	broken   bool      // a Secret the kubelet cannot parse: no pull is even tried
	missing  bool      // a referenced Secret is absent, skipped or unreadable
}

// Diagnose checks every container of every gathered pod.
func Diagnose(ctx context.Context, snap *Snapshot, opts Options) Report {
	d := &diagnosis{snap: snap, opts: opts, probes: map[string]*probeResult{}}
	d.planProbes()
	d.runProbes(ctx)
	var findings []Finding
	if snap.SecretsUnreadable != nil {
		findings = append(findings, Finding{Code: ChecksSkipped, Severity: SeverityWarning,
			Message:  "Secrets could not be read, so their content, keys and credentials were not checked; the kubelet's words and the registry's answers remain",
			Evidence: snap.SecretsUnreadable.Error(),
			Fix:      []string{"run doctor with permission to get and list secrets"}})
	}
	for i := range snap.Pods {
		findings = append(findings, d.pod(&snap.Pods[i])...)
	}
	return Report{Findings: findings, Summary: d.summary(findings)}
}

type diagnosis struct {
	snap   *Snapshot
	opts   Options
	probes map[string]*probeResult // by probeKey
	creds  map[string]podCreds     // by namespace/pod
}

type probeResult struct {
	image string
	cred  *dockercfg.Credential
	res   verify.Result
	err   error
}

// probeKey identifies a probe without keeping the password in a readable form.
func probeKey(image string, cred *dockercfg.Credential) string {
	if cred == nil {
		return image + "\x00anonymous"
	}
	return image + "\x00" + cred.Username + "\x00" + dockercfg.EncodeAuth(cred.Username, cred.Password)
}

// planProbes lists the distinct (image, credential) pairs worth asking about: the
// matching credentials of every container, and an anonymous probe for failing
// containers without one.
func (d *diagnosis) planProbes() {
	d.creds = map[string]podCreds{}
	for i := range d.snap.Pods {
		p := &d.snap.Pods[i]
		pc := d.podCredentials(p)
		d.creds[key(p.Namespace, p.Name)] = pc
		if d.opts.Probe == nil || pc.broken {
			continue
		}
		for _, c := range containers(p) {
			res, err := keyring.Lookup(c.image, pc.entries)
			if err != nil {
				continue
			}
			if len(res.Matches) == 0 && d.failing(c) {
				d.addProbe(c.image, nil)
			}
			for _, m := range res.Matches {
				d.addProbe(c.image, &dockercfg.Credential{Username: m.Username, Password: m.Password})
			}
		}
	}
}

func (d *diagnosis) addProbe(image string, cred *dockercfg.Credential) {
	k := probeKey(image, cred)
	if _, ok := d.probes[k]; !ok {
		d.probes[k] = &probeResult{image: image, cred: cred}
	}
}

func (d *diagnosis) runProbes(ctx context.Context) {
	n := d.opts.Concurrency
	if n <= 0 {
		n = 8
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, p := range d.probes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.res, p.err = d.opts.Probe(ctx, p.image, p.cred)
		}()
	}
	wg.Wait()
}

// failing reports whether a container's pull is to be explained.
func (d *diagnosis) failing(c container) bool { return d.opts.Static || c.failing() }

func (d *diagnosis) result(image string, cred *dockercfg.Credential) (verify.Result, bool) {
	p, ok := d.probes[probeKey(image, cred)]
	if !ok || p.err != nil {
		return verify.Result{}, false
	}
	return p.res, true
}

// podCredentials reads the pod's pull Secrets the kubelet's way.
func (d *diagnosis) podCredentials(p *corev1.Pod) podCreds {
	var pc podCreds
	if d.snap.SecretsUnreadable != nil {
		pc.missing = true
		return pc
	}
	base := Finding{Namespace: p.Namespace, Pod: p.Name}
	for _, ref := range p.Spec.ImagePullSecrets {
		f := base
		f.Secret = ref.Name
		s, ok := d.snap.Secrets[key(p.Namespace, ref.Name)]
		if !ok {
			pc.missing = true
			f.Code = SecretNotFound
			f.Message = fmt.Sprintf("the pod names pull Secret %s, which does not exist in namespace %s: the kubelet skips it", ref.Name, p.Namespace)
			f.Evidence = fmt.Sprintf(`kubelet: "Unable to retrieve some image pull secrets (%s)"`, ref.Name)
			if elsewhere := d.snap.Elsewhere[ref.Name]; len(elsewhere) > 0 {
				f.Message += fmt.Sprintf("; a Secret of that name exists in %s", strings.Join(elsewhere, ", "))
				f.Fix = append(f.Fix, fmt.Sprintf("kubectl get secret %s -n %s -o json | jq 'del(.metadata.namespace,.metadata.uid,.metadata.resourceVersion,.metadata.creationTimestamp,.metadata.managedFields,.metadata.ownerReferences)' | kubectl apply -n %s -f -", ref.Name, elsewhere[0], p.Namespace))
			}
			f.Fix = append(f.Fix, fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server REGISTRY --username USER --password-stdin", ref.Name, p.Namespace))
			pc.findings = append(pc.findings, f)
			continue
		}
		cfg, err := dockercfg.FromSecret(s)
		var parseErr *dockercfg.ParseError
		switch {
		case errors.Is(err, dockercfg.ErrWrongType) || errors.Is(err, dockercfg.ErrNoData):
			pc.missing = true
			f.Code, f.Message = SecretWrongType, "the kubelet ignores this Secret: "+err.Error()
			f.Fix = []string{fmt.Sprintf("kubectl regcred show %s -n %s", ref.Name, p.Namespace),
				fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s-pull -n %s --server REGISTRY --username USER --password-stdin   # then reference %s-pull", ref.Name, p.Namespace, ref.Name)}
			pc.findings = append(pc.findings, f)
			continue
		case errors.As(err, &parseErr) || err != nil:
			pc.broken = true
			f.Code, f.Message = SecretMalformed, "the kubelet cannot parse this Secret, so it fails every pull of the pod without contacting any registry: "+err.Error()
			f.Fix = []string{fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server REGISTRY --username USER --password-stdin --overwrite", ref.Name, p.Namespace)}
			pc.findings = append(pc.findings, f)
			continue
		}
		for _, e := range cfg.Entries {
			pc.entries = append(pc.entries, keyring.Entry{Key: e.Key, Username: e.Username, Password: e.Password, Source: key(s.Namespace, s.Name)})
		}
	}
	return pc
}

// pod checks one pod.
func (d *diagnosis) pod(p *corev1.Pod) []Finding {
	pc := d.creds[key(p.Namespace, p.Name)]
	cs := containers(p)
	failing := slices.ContainsFunc(cs, d.failing)
	var out []Finding
	for _, f := range pc.findings {
		f.Severity = SeverityWarning
		if failing || pc.broken {
			f.Severity = SeverityError
		}
		for _, c := range cs {
			if failing && !d.failing(c) {
				continue
			}
			g := f
			g.Container, g.Image = c.name, c.image
			if r, err := keyring.Lookup(c.image, nil); err == nil {
				g.Fix = slices.Clone(f.Fix)
				for i := range g.Fix {
					g.Fix[i] = strings.ReplaceAll(g.Fix[i], "--server REGISTRY", "--server "+registryOf(r.Repository))
				}
			}
			out = append(out, g)
		}
	}
	for _, c := range cs {
		if pc.broken {
			break // the Secret finding is the whole story
		}
		out = append(out, d.container(p, pc, c)...)
	}
	return out
}

// container checks one container's image.
func (d *diagnosis) container(p *corev1.Pod, pc podCreds, c container) []Finding {
	f := Finding{Namespace: p.Namespace, Pod: p.Name, Container: c.name, Image: c.image, Severity: SeverityError}
	words := kubeletWords(c, d.snap.Events[key(p.Namespace, p.Name)])
	res, err := keyring.Lookup(c.image, pc.entries)
	if err != nil || (c.waiting != nil && c.waiting.Reason == "InvalidImageName") {
		f.Code, f.Message = InvalidImageName, fmt.Sprintf("the image reference %q cannot be parsed, so nothing is pulled", c.image)
		if err != nil {
			f.Message += ": " + err.Error()
		}
		f.Evidence = words
		f.Fix = []string{"correct the image in the pod spec" + ownerHint(p)}
		return []Finding{f}
	}
	if c.waiting != nil && c.waiting.Reason == "ErrImageNeverPull" {
		f.Code = ImageNeverPull
		f.Message = fmt.Sprintf("imagePullPolicy is Never and %s is not on the node (or was pulled with credentials this pod does not have): no Secret can help", c.image)
		f.Evidence = words
		f.Fix = []string{"set imagePullPolicy: IfNotPresent" + ownerHint(p) + ", or load the image on every node"}
		return []Finding{f}
	}
	if !d.failing(c) {
		return d.runningContainer(p, res, c, f)
	}

	var out []Finding
	for _, m := range res.Matches {
		if m.Username == "" && m.Password == "" {
			e := f
			e.Code, e.Secret = EmptyCredential, secretName(m.Source)
			e.Message = fmt.Sprintf("key %s in Secret %s has no username or password: the kubelet pulls anonymously for it and no longer uses the node's own credentials", dockercfg.DisplayKey(m.Key), m.Source)
			e.Fix = []string{fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username USER --password-stdin --overwrite", secretName(m.Source), p.Namespace, registryOf(res.Repository))}
			out = append(out, e)
		}
	}
	code, evidence := d.cause(c.image, res, words)
	f.Code, f.Evidence = code, evidence
	if len(out) > 0 && (code == NoMatchingCredential || code == "") {
		return out // empty credentials: the registry saw an anonymous pull
	}
	if d.opts.Static && code == "" {
		if len(res.Matches) > 0 || len(res.NearMisses) == 0 || pc.missing {
			return out // nothing to say without a registry: the image may be public
		}
		code = NoMatchingCredential
	}
	switch {
	case len(res.Matches) == 0 && d.snap.SecretsUnreadable != nil && code != "":
		f.Message = fmt.Sprintf("the kubelet's pull fails (%s); the pod's Secrets could not be read to say which credential is at fault", code)
		f.Fix = []string{fmt.Sprintf("kubectl describe pod %s -n %s", p.Name, p.Namespace), "run doctor with permission to read secrets"}
	case len(res.Matches) == 0 && (code == CredentialRejected || code == AccessDenied || code == NoMatchingCredential):
		if pc.missing || d.saExplains(p, c.image) != "" {
			// The missing, ignored or never-applied Secret is the root cause, said elsewhere.
			return append(out, d.saFinding(p, c, f)...)
		}
		f.Code = NoMatchingCredential
		f.Message = fmt.Sprintf("no pull Secret of the pod has a key for %s, and the registry refuses anonymous pulls", registryOf(res.Repository))
		if d.opts.Static {
			f.Message = fmt.Sprintf("no pull Secret of the pod has a key for %s: the kubelet pulls it anonymously", registryOf(res.Repository))
		}
		for _, n := range res.NearMisses {
			f.Message += fmt.Sprintf("; %s in %s: %s", dockercfg.DisplayKey(n.Key), n.Source, n.Reason)
		}
		f.Fix = d.createFix(p, res, "")
	case code == CredentialRejected:
		f.Secret = secretName(res.Matches[0].Source)
		f.Message = fmt.Sprintf("the registry rejects user %q of Secret %s", res.Matches[0].Username, res.Matches[0].Source)
		f.Fix = []string{fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username %s --password-stdin --overwrite", f.Secret, p.Namespace, registryOf(res.Repository), shellWord(res.Matches[0].Username))}
	case code == AccessDenied:
		f.Secret = secretName(res.Matches[0].Source)
		f.Message = fmt.Sprintf("user %q of Secret %s is authenticated but may not pull %s, or the repository does not exist (registries do not say which)", res.Matches[0].Username, res.Matches[0].Source, res.Repository)
		f.Fix = []string{"grant that user pull access to " + res.Repository + " in the registry, or use a credential that has it",
			fmt.Sprintf("kubectl regcred verify %s -n %s --image %s", f.Secret, p.Namespace, c.image)}
	case code == ImageNotFound:
		f.Message = fmt.Sprintf("the registry has no %s", c.image)
		f.Fix = []string{"push the image, or correct the tag in the pod spec" + ownerHint(p)}
	case code == RateLimited:
		f.Message = "the registry rate-limits these pulls"
		f.Fix = []string{"pull with an authenticated account (Docker Hub limits anonymous pulls most), or mirror the image"}
	case code == RegistryTLSError:
		f.Message = "the node does not trust the registry's certificate"
		f.Fix = []string{"give the nodes' runtime the registry's CA (containerd: certs.d/" + registryOf(res.Repository) + "/hosts.toml with ca = ...), or serve a certificate for the registry's name from a trusted CA"}
	case code == RegistryHTTPOnly:
		f.Message = "the registry speaks plain HTTP and the runtime expects HTTPS"
		f.Fix = []string{"serve the registry over HTTPS, or configure the nodes' runtime for it (containerd: certs.d/" + registryOf(res.Repository) + "/hosts.toml with server = \"http://...\")"}
	case code == RegistryUnreachable:
		f.Message = "the registry cannot be reached"
		f.Fix = []string{"check the registry's name, DNS and the network path from the nodes"}
	default:
		f.Code = PullFailed
		f.Message = "the pull fails for a reason neither the kubelet's words nor the registry name"
		f.Fix = []string{fmt.Sprintf("kubectl describe pod %s -n %s", p.Name, p.Namespace)}
	}
	return append(out, f)
}

// runningContainer warns about a container that runs now but whose credentials no
// longer work: its next pull (a reschedule, a new node) will fail.
func (d *diagnosis) runningContainer(p *corev1.Pod, res keyring.Result, c container, f Finding) []Finding {
	if len(res.Matches) == 0 || d.opts.Probe == nil {
		return nil
	}
	var worst verify.Result
	for _, m := range res.Matches {
		r, ok := d.result(c.image, &dockercfg.Credential{Username: m.Username, Password: m.Password})
		if !ok || r.Outcome.Pullable() {
			return nil
		}
		worst = r
	}
	switch worst.Outcome {
	case verify.CredentialRejected, verify.AccessDenied, verify.ImageNotFound:
	default:
		return nil // unreachable from here says nothing of the nodes
	}
	f.Severity, f.Code, f.Secret = SeverityWarning, Code(worst.Outcome), secretName(res.Matches[0].Source)
	f.Message = fmt.Sprintf("runs now, but its credentials no longer work (%s): the next pull of %s, after a reschedule or on a new node, will fail", worst.Outcome, c.image)
	f.Evidence = "registry: " + worst.Detail
	f.Fix = []string{fmt.Sprintf("kubectl regcred verify %s -n %s --image %s", f.Secret, p.Namespace, c.image)}
	return []Finding{f}
}

// cause names the cause of a failing pull: from the registry's answer to the
// credentials the kubelet used, else from the kubelet's words.
func (d *diagnosis) cause(image string, res keyring.Result, words string) (Code, string) {
	evidence := ""
	if words != "" {
		evidence = "kubelet: " + lastLine(words)
	}
	fromWords := classify(words)
	var probed []verify.Result
	if len(res.Matches) == 0 {
		if r, ok := d.result(image, nil); ok {
			probed = append(probed, r)
		}
	}
	for _, m := range res.Matches {
		if r, ok := d.result(image, &dockercfg.Credential{Username: m.Username, Password: m.Password}); ok {
			probed = append(probed, r)
			if r.Outcome.Pullable() {
				break
			}
		}
	}
	if len(probed) == 0 {
		return fromWords, evidence
	}
	first := probed[0]
	evidence = strings.TrimSpace(evidence + "\nregistry: " + string(first.Outcome) + ": " + first.Detail)
	if slices.ContainsFunc(probed, func(r verify.Result) bool { return r.Outcome.Pullable() }) {
		// The registry lets us pull from here: the node differs (its trust store,
		// network, or a transient failure). The kubelet's words say how.
		return fromWords, evidence + "\n(the registry accepts this pull from here: the difference is on the node)"
	}
	switch first.Outcome {
	case verify.AuthRequired:
		return NoMatchingCredential, evidence
	case verify.RegistryError:
		return fromWords, evidence
	}
	return Code(first.Outcome), evidence
}

// saExplains returns the ServiceAccount Secrets the pod never got, or "".
func (d *diagnosis) saExplains(p *corev1.Pod, image string) string {
	sa, ok := d.snap.ServiceAccounts[key(p.Namespace, serviceAccount(p))]
	if !ok {
		return ""
	}
	var missing []string
	for _, ref := range sa.ImagePullSecrets {
		if !slices.Contains(p.Spec.ImagePullSecrets, ref) {
			missing = append(missing, ref.Name)
		}
	}
	return strings.Join(missing, ", ")
}

// saFinding explains a pod that lacks its ServiceAccount's pull Secrets.
func (d *diagnosis) saFinding(p *corev1.Pod, c container, f Finding) []Finding {
	missing := d.saExplains(p, c.image)
	if missing == "" {
		return nil
	}
	f.Code, f.Secret = ServiceAccountSecretsNotApplied, missing
	if len(p.Spec.ImagePullSecrets) == 0 {
		f.Message = fmt.Sprintf("ServiceAccount %s has pull Secret %s, but this pod was created before it was added: admission copies the list only when a pod is created", serviceAccount(p), missing)
		f.Fix = []string{recreate(p)}
	} else {
		f.Message = fmt.Sprintf("ServiceAccount %s has pull Secret %s, but the pod sets its own imagePullSecrets, so admission copies nothing", serviceAccount(p), missing)
		f.Fix = []string{"add " + missing + " to imagePullSecrets in the pod template" + ownerHint(p)}
	}
	return []Finding{f}
}

func (d *diagnosis) createFix(p *corev1.Pod, res keyring.Result, secret string) []string {
	name := "regcred"
	if secret != "" {
		name = secret
	}
	reg := registryOf(res.Repository)
	return []string{
		fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username USER --password-stdin", name, p.Namespace, reg),
		fmt.Sprintf("kubectl regcred attach %s -n %s --serviceaccount %s --restart", name, p.Namespace, serviceAccount(p)),
	}
}

func (d *diagnosis) summary(findings []Finding) Summary {
	s := Summary{Pods: len(d.snap.Pods), Probes: len(d.probes), Requests: d.snap.Requests, Codes: map[Code]int{}}
	podsWithErrors := map[string]bool{}
	for _, f := range findings {
		s.Codes[f.Code]++
		switch f.Severity {
		case SeverityError:
			s.Errors++
			podsWithErrors[key(f.Namespace, f.Pod)] = true
		case SeverityWarning:
			s.Warnings++
		}
	}
	s.PodsWithErrors = len(podsWithErrors)
	return s
}

func ownerHint(p *corev1.Pod) string {
	if o := owner(p); o != "" {
		return " of " + o
	}
	return ""
}

// registryOf is the registry part of a normalized repository (docker.io for Docker Hub).
func registryOf(repository string) string {
	if i := strings.IndexByte(repository, '/'); i >= 0 {
		return repository[:i]
	}
	return repository
}

func secretName(source string) string {
	if i := strings.LastIndexByte(source, '/'); i >= 0 {
		return source[i+1:]
	}
	return source
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// shellWord quotes a word for a shell command line when needed (robot$name).
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
