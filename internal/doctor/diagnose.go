package doctor

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/serviceaccount"
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
	// Static treats every container as about to pull: for pod templates and manifests
	// on disk, which have no status and no events.
	Static bool
	// Files says the snapshot came from manifest files: a Secret missing from them may
	// well exist in the cluster.
	Files bool
	// Recreator reads what recreates a pod and its template, for the fixes that choose
	// between recreating the pod and editing its template; nil: the pod alone says what
	// it can.
	Recreator func(ctx context.Context, p *corev1.Pod) (serviceaccount.Recreator, error)
	// LocalNode reports whether a node is this machine, so that its loopback is this
	// machine's; for "" (a pod not on a node yet, a workload's template), whether
	// every node of the cluster is. nil: no node is known to be.
	LocalNode func(ctx context.Context, node string) bool
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

type diagnosis struct {
	ctx    context.Context // for the reads of Options.Recreator and Options.LocalNode
	snap   *Snapshot
	opts   Options
	probes map[probeID]*probeResult
	// podCreds and containers are those of each pod of the snapshot, by index; a
	// pod's credentials are those of the last pod of its namespace and name, should
	// the snapshot hold two (manifest files may).
	podCreds   []podCreds
	containers [][]container
	// bareRunning lists, per image, the nodes where a container of it runs with no
	// pull Secret credential for it: nodes that pull it by themselves.
	bareRunning map[string][]string
	// runningOn lists, per image, the nodes where a container of it runs.
	runningOn map[string][]string
	// copies are the regcred copies among the Secrets, by namespace, in name order.
	copies map[string][]*corev1.Secret
	// unprobed are the loopback registries of running containers that were not
	// probed (see loopback.go).
	unprobed map[string]bool
	// shared are the credentials shared by pods (see credentialsOf), and sharedKey a
	// buffer for their keys.
	shared    map[string]podCreds
	sharedKey []byte
	// keys caches image lookups by the keys of the pull Secrets (see credentialsOf).
	keys keyring.Cache
}

// Diagnose checks every container of every gathered pod.
func Diagnose(ctx context.Context, snap *Snapshot, opts Options) Report {
	d := &diagnosis{ctx: ctx, snap: snap, opts: opts, probes: map[probeID]*probeResult{}, bareRunning: map[string][]string{}, runningOn: map[string][]string{},
		copies: copiesByNamespace(snap.Secrets), unprobed: map[string]bool{},
		podCreds: make([]podCreds, len(snap.Pods)), containers: make([][]container, len(snap.Pods))}
	last := make(map[podName]int, len(snap.Pods))
	for i := range snap.Pods {
		p := &snap.Pods[i]
		pc := d.credentialsOf(p)
		d.podCreds[i], d.containers[i] = pc, containers(p)
		last[podName{p.Namespace, p.Name}] = i
		for _, c := range d.containers[i] {
			if c.running && p.Spec.NodeName != "" && !slices.Contains(d.runningOn[c.image], p.Spec.NodeName) {
				d.runningOn[c.image] = append(d.runningOn[c.image], p.Spec.NodeName)
			}
			if !c.running || p.Spec.NodeName == "" || pc.unknown {
				continue
			}
			if res, err := pc.lookup(c.image); err == nil && len(res.Matches) == 0 && !slices.Contains(d.bareRunning[c.image], p.Spec.NodeName) {
				d.bareRunning[c.image] = append(d.bareRunning[c.image], p.Spec.NodeName)
			}
		}
	}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		d.podCreds[i] = d.podCreds[last[podName{p.Namespace, p.Name}]] // the last of its name's
	}
	d.probe(ctx)
	var findings []Finding
	for _, skipped := range []struct {
		err  error
		what string
	}{{snap.SecretsUnreadable, "Secrets"}, {snap.ServiceAccountsUnreadable, "ServiceAccounts"}} {
		if skipped.err != nil {
			findings = append(findings, Finding{Code: ChecksSkipped, Severity: SeverityWarning,
				Message:  skipped.what + " could not be read, so the checks that need them did not run; the kubelet's words and the registry's answers remain",
				Evidence: skipped.err.Error(),
				Fix:      []string{"run doctor with permission to get and list " + skipped.what}})
		}
	}
	for i := range snap.Pods {
		findings = append(findings, d.pod(i)...)
	}
	findings = append(findings, unprobedFinding(d.unprobed)...)
	return Report{Findings: findings, Summary: d.summary(findings)}
}

// failing reports whether a container's pull is to be explained.
func (d *diagnosis) failing(c container) bool { return d.opts.Static || c.failing() }

// podName is a pod's namespace and name.
type podName struct{ namespace, name string }

// pod checks the snapshot's pod i: its pull Secrets once, then each container.
func (d *diagnosis) pod(i int) []Finding {
	p, pc := &d.snap.Pods[i], d.podCreds[i]
	if f, ok := d.sandbox(p); ok {
		return []Finding{f} // no container can start: the sandbox is the whole story
	}
	cs := d.containers[i]
	var failing []container
	for _, c := range cs {
		// A Secret the kubelet cannot parse stops every pull of the pod, whatever
		// the kubelet names the wait.
		if !c.ephemeral && (d.failing(c) || (pc.broken && c.stuck(p))) {
			failing = append(failing, c)
		}
	}
	var out []Finding
	for _, sf := range pc.findings {
		f := sf.Finding
		f.Severity = SeverityWarning
		if len(failing) > 0 && (sf.related == nil || slices.ContainsFunc(failing, func(c container) bool { return sf.related(c.image) })) {
			f.Severity = SeverityError
		}
		if d.opts.Files && f.Code == SecretNotFound {
			f.Severity = SeverityWarning // Secrets are usually made outside the manifests
		}
		if len(failing) > 0 {
			f.Container, f.Image = failing[0].name, failing[0].image
			f.Fix = fillRegistry(f.Fix, failing[0].image)
			rewriteImageFix(p, &f)
		}
		out = append(out, f)
	}
	if pc.broken {
		return d.markCopies(p, out) // the kubelet tries no pull at all: the Secret is the whole story
	}
	for _, c := range cs {
		found := d.container(p, pc, c)
		if c.ephemeral {
			// An ephemeral container cannot be removed: its failure never heals, but
			// it does not stop the pod serving.
			for i := range found {
				if found[i].Severity == SeverityError {
					found[i].Severity = SeverityWarning
				}
			}
		}
		for i := range found {
			if found[i].Nodes == nil && p.Spec.NodeName != "" {
				found[i].Nodes = []string{p.Spec.NodeName}
			}
			found[i].NodeProbe = d.opts.Probe != nil && d.unprobeable(p, c.image)
			rewriteImageFix(p, &found[i])
		}
		out = append(out, found...)
	}
	return d.markCopies(p, out)
}

// markCopies names, in findings about a regcred copy, its ClusterPullSecret and source.
func (d *diagnosis) markCopies(p *corev1.Pod, findings []Finding) []Finding {
	for i := range findings {
		if c := d.copyOf(p.Namespace, findings[i].Secret); c != nil {
			findings[i].ClusterPullSecret = c.cps
			if c.sourceName != "" {
				findings[i].SourceSecret = key(c.sourceNamespace, c.sourceName)
			}
		}
	}
	return findings
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
