package doctor

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/serviceaccount"
	"github.com/regcred/regcred/internal/verify"
)

// container checks one container's image.
func (d *diagnosis) container(p *corev1.Pod, pc podCreds, c container) []Finding {
	f := Finding{Namespace: p.Namespace, Pod: p.Name, Container: c.name, Image: c.image, Severity: SeverityError}
	res, err := pc.lookup(c.image)
	invalid := err != nil || (c.waiting != nil && c.waiting.Reason == "InvalidImageName")
	neverPull := c.waiting != nil && c.waiting.Reason == "ErrImageNeverPull"
	if !invalid && !neverPull && !d.failing(c) {
		return d.runningContainer(p, pc, res, c, f)
	}
	words := kubeletWords(c, d.snap.Events[podKey(p)])
	if invalid {
		f.Code, f.Message = InvalidImageName, fmt.Sprintf("the image reference %q cannot be parsed, so nothing is pulled", c.image)
		if err != nil {
			f.Message += ": " + err.Error()
		}
		f.Evidence = kubeletEvidence(words)
		f.Fix = []string{"correct the image in the pod spec" + ownerHint(p)}
		return []Finding{f}
	}
	if neverPull {
		f.Code = ImageNeverPull
		f.Message = fmt.Sprintf("imagePullPolicy is Never and %s is not on the node (or was pulled with credentials this pod does not have): no Secret can help", c.image)
		f.Evidence = kubeletEvidence(words)
		f.Fix = []string{"set imagePullPolicy: IfNotPresent" + ownerHint(p) + ", or load the image on every node"}
		return []Finding{f}
	}
	code, evidence, accepted := d.cause(p, c.image, res, words)
	f.Code, f.Evidence = code, evidence
	authish := code == CredentialRejected || code == AccessDenied || code == NoMatchingCredential
	if len(res.Matches) > 0 && res.Matches[0].Username == "" && res.Matches[0].Password == "" && (authish || code == "") {
		m := res.Matches[0]
		f.Code, f.Secret = EmptyCredential, secretName(m.Source)
		f.Message = fmt.Sprintf("key %s in Secret %s has no username or password: the kubelet pulls anonymously for it and no longer uses the node's own credentials", m.Key, m.Source)
		f.Fix = d.overwriteFix(p, f.Secret, c.image, "USER")
		return []Finding{f}
	}
	if d.opts.Static && code == "" {
		if len(res.Matches) > 0 || len(res.NearMisses) == 0 || pc.unknown || pc.ignoredFor(c.image) {
			return nil // nothing to say without a registry: the image may be public
		}
		code, authish = NoMatchingCredential, true
	}
	switch {
	case len(res.Matches) == 0 && accepted && authish && !pc.unreadable:
		f.Code = PullFailed
		f.Message = "the registry lets anyone pull this image from here, but the node was refused: the difference is on the node (its runtime configuration, a mirror, or credentials of its own that fail)"
		f.Fix = []string{"compare the node's runtime registry configuration (containerd: certs.d/" + registryOf(res.Repository) + "/hosts.toml, registry.configs) with this machine's view"}
	case pc.unreadable && authish:
		// A refusal with unread Secrets: a credential of theirs was rejected, or none
		// had a key and the pull went anonymous. Which one is not known.
		var names []string
		for _, ref := range d.pullSecretRefs(p) {
			names = append(names, ref.Name)
		}
		f.Code = PullFailed
		f.Message = fmt.Sprintf("the registry refuses the node's pull (%s); the pod's pull Secrets (%s) could not be read to say whether one of their credentials was rejected or none had a key for %s and nothing was sent", code, strings.Join(names, ", "), registryOf(res.Repository))
		f.Fix = []string{fmt.Sprintf("kubectl describe pod %s -n %s", p.Name, p.Namespace), "run doctor with permission to get and list secrets"}
	case len(res.Matches) == 0 && authish:
		if pc.unknown || pc.ignoredFor(c.image) {
			return nil // the missing or ignored Secret is the root cause, said once for the pod
		}
		if missing := d.saMissing(p, c.image); len(missing) > 0 {
			return []Finding{d.saFinding(p, f, missing)}
		}
		if others := d.nodesWithOwnCredentials(c.image, p.Spec.NodeName); len(others) > 0 {
			f.Code, f.Nodes = NodeLocalCredential, []string{p.Spec.NodeName}
			f.Message = fmt.Sprintf("%s runs without a pull Secret on %s, whose runtime has credentials of its own for %s (a docker login, a runtime config or a credential provider); node %s has none, and no pull Secret of this pod supplies one", c.image, strings.Join(others, ", "), registryOf(res.Repository), p.Spec.NodeName)
			f.Evidence = strings.TrimSpace(f.Evidence + "\nruns on: " + strings.Join(others, ", ") + "; fails on: " + p.Spec.NodeName)
			f.Fix = d.createFix(p, res)
			return []Finding{f}
		}
		f.Code = NoMatchingCredential
		f.Message = fmt.Sprintf("no pull Secret of the pod has a key for %s, and the registry refuses anonymous pulls", registryOf(res.Repository))
		if d.opts.Static {
			f.Message = fmt.Sprintf("no pull Secret of the pod has a key for %s: the kubelet pulls it anonymously", registryOf(res.Repository))
		}
		if len(d.pullSecretRefs(p)) == 0 {
			f.Message = fmt.Sprintf("the pod has no pull Secret, so no credential of the pod is sent for %s, and the registry refuses the pull without one", c.image)
			if notCopied := d.saNotCopied(p); d.snap.SecretsUnreadable != nil && len(notCopied) > 0 {
				f.Message += fmt.Sprintf("; ServiceAccount %s lists pull Secrets (%s) this pod never got, which could not be read to say whether one has a key for %s", serviceAccount(p), strings.Join(notCopied, ", "), registryOf(res.Repository))
			}
		}
		for _, n := range res.NearMisses {
			f.Message += fmt.Sprintf("; %s in %s: %s", n.Key, n.Source, n.Reason)
		}
		f.Fix = d.createFix(p, res)
	case code == CredentialRejected:
		m := d.failedMatch(p, c.image, res)
		f.Secret = secretName(m.Source)
		f.Message = fmt.Sprintf("the registry rejects user %q of Secret %s", m.Username, m.Source)
		f.Fix = d.overwriteFix(p, f.Secret, c.image, shellWord(m.Username))
	case code == AccessDenied:
		m := d.failedMatch(p, c.image, res)
		f.Secret = secretName(m.Source)
		f.Message = fmt.Sprintf("user %q of Secret %s is authenticated but may not pull %s, or the repository does not exist (registries do not say which)", m.Username, m.Source, res.Repository)
		f.Fix = []string{"grant that user pull access to " + res.Repository + " in the registry, or use a credential that has it",
			fmt.Sprintf("kubectl regcred verify %s -n %s --image %s", f.Secret, p.Namespace, c.image)}
		if cp := d.copyOf(p.Namespace, f.Secret); cp != nil {
			f.Fix[0] += fmt.Sprintf(" (in %s, which ClusterPullSecret %s copies here: never in the copy)", cp.source(), cp.cps)
		}
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
	if f.Code == RegistryTLSError || f.Code == RegistryHTTPOnly || f.Code == RegistryUnreachable {
		var others []string
		for _, n := range d.runningOn[c.image] {
			if n != p.Spec.NodeName {
				others = append(others, n)
			}
		}
		if len(others) > 0 {
			f.Message += fmt.Sprintf("; the image runs on %s, so the difference is %s's own configuration (trust store, certs.d/hosts.toml, insecure-registry settings, DNS), not the credentials", strings.Join(others, ", "), p.Spec.NodeName)
		}
	}
	return []Finding{f}
}

// runningContainer warns about a container that runs now but whose credentials no
// longer work: its next pull (a reschedule, a new node) will fail.
func (d *diagnosis) runningContainer(p *corev1.Pod, pc podCreds, res keyring.Result, c container, f Finding) []Finding {
	if d.opts.Probe == nil {
		return nil
	}
	if d.unprobeable(p, c.image) {
		if reg, ok := loopbackRegistry(c.image); ok {
			d.unprobed[reg] = true
		}
		return nil
	}
	if len(res.Matches) == 0 {
		if pc.unreadable {
			return nil // its unread Secrets may well have the credential
		}
		return d.reschedulingRisk(p, res, c, f)
	}
	var last verify.Result
	for i := range res.Matches {
		r, ok := d.resultFor(p, matchProbe(c.image, &res.Matches[i]))
		if !ok || r.Outcome.Pullable() {
			return nil
		}
		last = r
	}
	switch last.Outcome {
	case verify.CredentialRejected, verify.AccessDenied, verify.ImageNotFound:
	default:
		return nil // unreachable from here says nothing of the nodes
	}
	f.Severity, f.Code, f.Secret = SeverityWarning, Code(last.Outcome), secretName(res.Matches[0].Source)
	f.Message = fmt.Sprintf("runs now, but its credentials no longer work (%s): the next pull of %s, after a reschedule or on a new node, will fail", last.Outcome, c.image)
	f.Evidence = "registry: " + last.Detail
	f.Fix = []string{fmt.Sprintf("kubectl regcred verify %s -n %s --image %s", f.Secret, p.Namespace, c.image)}
	return []Finding{f}
}

// cause names the cause of a failing pull. The kubelet's words say what happened on
// the node; the registry's answer to the pod's own credentials refines a credential
// cause; a registry that accepts the pull from here means the node differs.
func (d *diagnosis) cause(p *corev1.Pod, image string, res keyring.Result, words []string) (code Code, evidence string, accepted bool) {
	evidence = kubeletEvidence(words)
	for _, w := range words {
		if code = classify(w); code != "" {
			break
		}
	}
	var probed []verify.Result
	ids := []probeID{anonymousProbe(image)}
	if len(res.Matches) > 0 {
		ids = ids[:0]
		for i := range res.Matches {
			ids = append(ids, matchProbe(image, &res.Matches[i]))
		}
	}
	for _, id := range ids {
		if r, ok := d.resultFor(p, id); ok {
			probed = append(probed, r)
			if r.Outcome.Pullable() {
				accepted = true
				break
			}
		}
	}
	if len(probed) == 0 {
		if d.opts.Probe != nil && d.unprobeable(p, image) {
			evidence = strings.TrimSpace(evidence + "\n" + unprobedNote(p, image))
		}
		return code, evidence, false
	}
	first := probed[0]
	evidence = strings.TrimSpace(evidence + "\nregistry: " + string(first.Outcome) + ": " + first.Detail)
	if accepted {
		return code, evidence + "\n(the registry accepts this pull from here: the difference is on the node)", true
	}
	if code != "" {
		if len(res.Matches) > 0 && (first.Outcome == verify.CredentialRejected || first.Outcome == verify.AccessDenied || first.Outcome == verify.ImageNotFound) {
			return Code(first.Outcome), evidence, false
		}
		return code, evidence, false
	}
	switch first.Outcome {
	case verify.AuthRequired:
		return NoMatchingCredential, evidence, false
	case verify.RegistryError:
		return "", evidence, false
	}
	return Code(first.Outcome), evidence, false
}

// failedMatch is the first credential the registry refused, or the first match.
func (d *diagnosis) failedMatch(p *corev1.Pod, image string, res keyring.Result) keyring.Match {
	for i, m := range res.Matches {
		if r, ok := d.resultFor(p, matchProbe(image, &res.Matches[i])); ok && !r.Outcome.Pullable() {
			return m
		}
	}
	return res.Matches[0]
}

// saFinding explains a pod that lacks ServiceAccount pull Secrets that would serve.
// Where the pod's list comes from decides the fix: recreated, a pod whose template
// sets no list gets the ServiceAccount's list as it is now; a template with a list of
// its own needs the Secrets added to it, every entry there kept.
func (d *diagnosis) saFinding(p *corev1.Pod, f Finding, missing []string) Finding {
	f.Code, f.Secret = ServiceAccountSecretsNotApplied, strings.Join(missing, ", ")
	what := f.Secret
	for _, m := range missing {
		if c := d.copyOf(p.Namespace, m); c != nil {
			what += fmt.Sprintf(" (ClusterPullSecret %s's copy of %s)", c.cps, c.source())
		}
	}
	rec, origin := d.recreator(p)
	switch {
	case origin == serviceaccount.OriginServiceAccount && len(p.Spec.ImagePullSecrets) == 0:
		f.Message = fmt.Sprintf("ServiceAccount %s has pull Secret %s, but this pod was created before it was added: admission copies the list only when a pod is created", serviceAccount(p), what)
		f.Fix = d.recreateFix(p, rec)
	case origin == serviceaccount.OriginServiceAccount:
		f.Message = fmt.Sprintf("ServiceAccount %s has pull Secret %s, but this pod has the list admission copied from it when the pod was created, before that; the pod template of %s sets no list, so a new pod gets the whole list as it is now", serviceAccount(p), what, rec.Owner)
		f.Fix = d.recreateFix(p, rec)
	case origin == serviceaccount.OriginTemplate:
		f.Message = fmt.Sprintf("ServiceAccount %s has pull Secret %s, but the pod template of %s sets its own imagePullSecrets, so admission copies nothing", serviceAccount(p), what, rec.Owner)
		f.Fix = d.addToTemplateFix(p, rec, missing)
	default:
		f.Message = fmt.Sprintf("ServiceAccount %s has pull Secret %s, which this pod lacks: either its list was copied from the ServiceAccount before %s was added, or the pod sets its own (then admission copies nothing)", serviceAccount(p), what, f.Secret)
		f.Fix = append(d.addToTemplateFix(p, rec, missing)[:1:1], d.recreateFix(p, rec)...)
		f.Fix[0] = "if the pod's manifest sets imagePullSecrets: " + f.Fix[0] + "; either way, recreate the pod:"
	}
	return f
}

// createFix is the fix for an image no key matches: rewrite the Secret whose key
// nearly matched, or make one and have the pod get it.
func (d *diagnosis) createFix(p *corev1.Pod, res keyring.Result) []string {
	reg, _ := serverFor(res.Image)
	if len(res.NearMisses) > 0 {
		return d.overwriteFix(p, secretName(res.NearMisses[0].Source), res.Image, "USER")
	}
	if c, copyName := d.copyFor(p, res.Image); c != nil {
		return d.attachCopyFix(p, c, copyName)
	}
	name := "regcred"
	if _, taken := d.snap.Secrets[key(p.Namespace, name)]; taken {
		name = strings.NewReplacer(".", "-", ":", "-").Replace(reg) + "-pull"
	}
	fix := []string{fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username USER --password-stdin", name, p.Namespace, reg)}
	return append(fix, d.referenceFix(p, name, "")...)
}

// overwriteFix replaces a Secret's credential; with several entries, look first, since
// --overwrite keeps only the one given. A regcred copy is never written: its source is.
func (d *diagnosis) overwriteFix(p *corev1.Pod, secret, image, user string) []string {
	registry, _ := serverFor(image)
	fix := []string{fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username %s --password-stdin --overwrite", secret, p.Namespace, registry, user)}
	show := fmt.Sprintf("kubectl regcred show %s -n %s", secret, p.Namespace)
	c := d.copyOf(p.Namespace, secret)
	if c != nil {
		fix = append(c.sourceLookup(), c.sourceOverwrite(p.Namespace, secret, registry, user))
		show = c.sourceShow("") // a copy holds what its source holds
	}
	if s, ok := d.snap.Secrets[key(p.Namespace, secret)]; ok && show != "" {
		if cfg, err := dockercfg.FromSecret(s); err == nil && len(cfg.Entries) > 1 {
			fix = append([]string{fmt.Sprintf("%s   # it has %d entries: --overwrite keeps only the one given", show, len(cfg.Entries))}, fix...)
		}
	}
	return fix
}

// ignoredFor reports whether a Secret the kubelet skips would have served the image.
func (pc podCreds) ignoredFor(image string) bool {
	if len(pc.ignored) == 0 {
		return false
	}
	res, err := keyring.Lookup(image, pc.ignored)
	return err == nil && len(res.Matches) > 0
}

var urlQuery = regexp.MustCompile(`(https?://[^\s"'?]+)\?[^\s"']*`)

// kubeletEvidence is the kubelet's most telling line, with URL queries (signed blob
// URLs carry credentials) removed.
func kubeletEvidence(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return "kubelet: " + urlQuery.ReplaceAllString(words[0], "$1?REDACTED")
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

// shellWord quotes a word for a shell command line when needed (robot$name).
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// reschedulingRisk warns about a running container with no pull Secret credential
// whose image the registry refuses without one: it runs only thanks to its node (its
// own credentials, or the image already there), and fails where it moves next.
func (d *diagnosis) reschedulingRisk(p *corev1.Pod, res keyring.Result, c container, f Finding) []Finding {
	r, ok := d.resultFor(p, anonymousProbe(c.image))
	if !ok || (r.Outcome != verify.AuthRequired && r.Outcome != verify.AccessDenied) || p.Spec.NodeName == "" {
		return nil
	}
	f.Code, f.Severity, f.Nodes = ReschedulingRisk, SeverityWarning, []string{p.Spec.NodeName}
	f.Message = fmt.Sprintf("runs on %s although the registry refuses %s without credentials and no pull Secret of the pod has one: it runs thanks to the node (credentials of its own, or the image already there) and will fail when it moves to a node without them", p.Spec.NodeName, c.image)
	f.Evidence = "registry (anonymous): " + string(r.Outcome) + ": " + r.Detail
	f.Fix = d.createFix(p, res)
	return []Finding{f}
}

// nodesWithOwnCredentials lists the nodes, other than this one, where the image runs
// with no pull Secret credential.
func (d *diagnosis) nodesWithOwnCredentials(image, node string) []string {
	var out []string
	for _, n := range d.bareRunning[image] {
		if n != node {
			out = append(out, n)
		}
	}
	return out
}

var sandboxImage = regexp.MustCompile(`(?:sandbox image|pulling image|pull image) \\?"([^"\\]+)\\?"`)

// sandbox reports a pod whose sandbox cannot be created because the runtime cannot
// pull its pause image.
func (d *diagnosis) sandbox(p *corev1.Pod) (Finding, bool) {
	events := d.snap.Events[podKey(p)]
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.Reason != "FailedCreatePodSandBox" || !strings.Contains(e.Message, "pull") {
			continue
		}
		f := Finding{Code: SandboxImagePullFailed, Severity: SeverityError, Namespace: p.Namespace, Pod: p.Name, Nodes: []string{p.Spec.NodeName}}
		if m := sandboxImage.FindStringSubmatch(e.Message); m != nil {
			f.Image = m[1]
		}
		f.Message = fmt.Sprintf("the runtime on %s cannot pull the pod sandbox image %s, so no container of the pod can start; pull Secrets cannot help, the runtime pulls it with its own configuration", p.Spec.NodeName, f.Image)
		f.Evidence = kubeletEvidence([]string{e.Message})
		f.Fix = []string{"make the sandbox image public, or give the runtime on " + p.Spec.NodeName + " credentials for it (containerd: registry.configs.\"HOST\".auth, or a sandbox_image it can pull)"}
		return f, true
	}
	return Finding{}, false
}
