package doctor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// podCreds is what the pod's Secrets give the kubelet.
type podCreds struct {
	entries  []keyring.Entry // usable entries, in the kubelet's source order
	findings []secretFinding // about the Secrets themselves
	broken   bool            // a Secret the kubelet cannot parse: no pull is even tried
	// unknown is set when a referenced Secret is absent or unreadable: what it would
	// have supplied cannot be known.
	unknown bool
	// unreadable is set when the pod references Secrets that could not be read
	// (RBAC): whether a credential was sent, and which, cannot be known.
	unreadable bool
	// ignored are the entries of Secrets the kubelet skips (wrong type).
	ignored []keyring.Entry
	// lookups memoizes lookup, for credentials shared by pods (see credentialsOf).
	lookups map[string]lookupResult
	// keys is the diagnosis's cache of lookups by keys.
	keys *keyring.Cache
}

// secretFinding is a finding about one of the pod's Secrets; related reports whether
// it concerns an image (nil: it may concern any).
type secretFinding struct {
	Finding
	related func(image string) bool
}

// podCredentials reads the pod's pull Secrets the kubelet's way.
func (d *diagnosis) podCredentials(p *corev1.Pod) podCreds {
	pc := podCreds{keys: &d.keys}
	if d.snap.SecretsUnreadable != nil {
		pc.unknown = len(d.pullSecretRefs(p)) > 0
		pc.unreadable = pc.unknown
		return pc
	}
	for _, ref := range d.pullSecretRefs(p) {
		f := Finding{Namespace: p.Namespace, Pod: p.Name, Secret: ref.Name}
		s, ok := d.snap.Secrets[key(p.Namespace, ref.Name)]
		if !ok {
			pc.unknown = true
			pc.findings = append(pc.findings, secretFinding{Finding: d.secretNotFound(p, ref.Name, f)})
			continue
		}
		entries, _, err := keyring.FromSecret(s)
		var parseErr *dockercfg.ParseError
		switch {
		case errors.Is(err, dockercfg.ErrWrongType) || errors.Is(err, dockercfg.ErrNoData):
			would := wouldBeEntries(s)
			pc.ignored = append(pc.ignored, would...)
			f.Code, f.Message = SecretWrongType, "the kubelet ignores this Secret: "+err.Error()
			f.Fix = append([]string{fmt.Sprintf("kubectl regcred show %s -n %s", ref.Name, p.Namespace),
				fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s-pull -n %s --server REGISTRY --username USER --password-stdin", ref.Name, p.Namespace)},
				d.replaceReferenceFix(p, ref.Name, ref.Name+"-pull", "the kubelet reads only the two pull Secret types")...)
			if c := copyOf(s, d.snap.ClusterPullSecrets); c != nil {
				f.Fix = c.brokenCopyFix(p.Namespace, ref.Name)
			}
			pc.findings = append(pc.findings, secretFinding{Finding: f, related: matchesAny(would)})
		case err != nil:
			pc.broken = true
			f.Code, f.Message = SecretMalformed, "the kubelet cannot parse this Secret, so it fails every pull of the pod without asking any registry: "+err.Error()
			server := "REGISTRY"
			if errors.As(err, &parseErr) && parseErr.Key != "" {
				if k, kerr := dockercfg.KeyFor(dockercfg.DisplayKey(parseErr.Key)); kerr == nil {
					server = dockercfg.LoginHost(k)
				}
			}
			f.Fix = []string{fmt.Sprintf("kubectl regcred show %s -n %s   # see every entry: --overwrite keeps only the one you give", ref.Name, p.Namespace),
				fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username USER --password-stdin --overwrite", ref.Name, p.Namespace, server)}
			if c := copyOf(s, d.snap.ClusterPullSecrets); c != nil {
				f.Fix = c.brokenCopyFix(p.Namespace, ref.Name)
				f.Fix[len(f.Fix)-1] = c.sourceOverwrite(p.Namespace, ref.Name, server, "USER")
			}
			pc.findings = append(pc.findings, secretFinding{Finding: f})
		default:
			pc.entries = append(pc.entries, entries...)
		}
	}
	return pc
}

func (d *diagnosis) secretNotFound(p *corev1.Pod, name string, f Finding) Finding {
	f.Code = SecretNotFound
	if d.opts.Files {
		f.Message = fmt.Sprintf("the pod names pull Secret %s, which is not in the given files; pulls need it to exist in namespace %s", name, p.Namespace)
		f.Fix = []string{fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server REGISTRY --username USER --password-stdin", name, p.Namespace)}
		return f
	}
	f.Message = fmt.Sprintf("the pod names pull Secret %s, which does not exist in namespace %s: the kubelet skips it", name, p.Namespace)
	f.Evidence = fmt.Sprintf(`kubelet: "Unable to retrieve some image pull secrets (%s)"`, name)
	if elsewhere := d.snap.Elsewhere[name]; len(elsewhere) > 0 {
		f.Message += fmt.Sprintf("; a Secret of that name exists in %s", strings.Join(elsewhere, ", "))
		for _, ns := range elsewhere {
			if c := d.copyOf(ns, name); c != nil {
				// Copying a copy by hand makes a Secret regcred sees as someone
				// else's: have the ClusterPullSecret make it.
				f.Message += fmt.Sprintf("; in %s it is a copy of %s kept by ClusterPullSecret %s, which has none in %s", ns, c.source(), c.cps, p.Namespace)
				f.Fix = d.elsewhereCopyFix(p, name, c)
				return f
			}
		}
		f.Fix = append(f.Fix, fmt.Sprintf("kubectl get secret %s -n %s -o json | jq 'del(.metadata.namespace,.metadata.uid,.metadata.resourceVersion,.metadata.creationTimestamp,.metadata.managedFields,.metadata.ownerReferences)' | kubectl apply -n %s -f -", name, elsewhere[0], p.Namespace))
	}
	f.Fix = append(f.Fix, fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server REGISTRY --username USER --password-stdin", name, p.Namespace))
	return f
}

// wouldBeEntries reads what a Secret the kubelet skips would hold under the right type.
func wouldBeEntries(s *corev1.Secret) []keyring.Entry {
	cfg, err := dockercfg.UnderRightType(s)
	if err != nil {
		return nil
	}
	return keyring.FromConfig(cfg, key(s.Namespace, s.Name))
}

// matchesAny reports whether some entry applies to an image; with no entries known,
// it may concern any image.
func matchesAny(entries []keyring.Entry) func(string) bool {
	return func(image string) bool {
		if len(entries) == 0 {
			return true
		}
		res, err := keyring.Lookup(image, entries)
		return err == nil && len(res.Matches) > 0
	}
}

// saMissing returns the ServiceAccount's pull Secrets that the pod lacks and that would
// supply a credential for the image.
func (d *diagnosis) saMissing(p *corev1.Pod, image string) []string {
	sa, ok := d.snap.ServiceAccounts[key(p.Namespace, serviceAccount(p))]
	if !ok {
		return nil
	}
	var missing []string
	for _, ref := range sa.ImagePullSecrets {
		if slices.Contains(d.pullSecretRefs(p), ref) {
			continue
		}
		s, ok := d.snap.Secrets[key(p.Namespace, ref.Name)]
		if !ok {
			continue
		}
		entries, _, err := keyring.FromSecret(s)
		if err != nil {
			continue
		}
		if matchesAny(entries)(image) && len(entries) > 0 {
			missing = append(missing, ref.Name)
		}
	}
	return missing
}

// fillRegistry puts the image's registry in place of the REGISTRY placeholder.
func fillRegistry(fix []string, image string) []string {
	server, _ := serverFor(image)
	out := slices.Clone(fix)
	for i := range out {
		out[i] = strings.ReplaceAll(out[i], "--server REGISTRY", "--server "+server)
	}
	return out
}

// saNotCopied lists the ServiceAccount's pull Secrets that the pod does not reference.
func (d *diagnosis) saNotCopied(p *corev1.Pod) []string {
	sa, ok := d.snap.ServiceAccounts[key(p.Namespace, serviceAccount(p))]
	if !ok {
		return nil
	}
	var out []string
	for _, ref := range sa.ImagePullSecrets {
		if !slices.Contains(d.pullSecretRefs(p), ref) {
			out = append(out, ref.Name)
		}
	}
	return out
}
