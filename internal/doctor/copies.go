package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/pullsecret"
	"github.com/regcred/regcred/internal/serviceaccount"
)

// A pull Secret that regcred-controller copies from a source is rewritten from that
// source at every sync: a fix written to the copy is undone. Every fix that would
// change a copy changes its source instead, and says that the controller carries it
// to every namespace.

// managedCopy is a pull Secret regcred made for a ClusterPullSecret.
type managedCopy struct {
	cps string // the ClusterPullSecret
	// sourceNamespace and sourceName name the source Secret; "" when neither the
	// copy's annotation nor the ClusterPullSecret could say.
	sourceNamespace, sourceName string
	// plugin is the credential provider plugin that mints the source, for a
	// spec.source.credentialProvider: there is no source Secret to change then.
	plugin string
}

// source is the source Secret as namespace/name, or the ClusterPullSecret's words.
func (c *managedCopy) source() string {
	if c.plugin != "" {
		return fmt.Sprintf("the credential that plugin %s mints for ClusterPullSecret %s", c.plugin, c.cps)
	}
	if c.sourceName == "" {
		return "the source of ClusterPullSecret " + c.cps
	}
	return key(c.sourceNamespace, c.sourceName)
}

// copyOf returns what the Secret of that namespace and name copies, or nil when it is
// not a regcred copy (or not in the snapshot).
func (d *diagnosis) copyOf(namespace, name string) *managedCopy {
	s, ok := d.snap.Secrets[key(namespace, name)]
	if !ok {
		return nil
	}
	return copyOf(s, d.snap.ClusterPullSecrets)
}

func copyOf(s *corev1.Secret, cpss map[string]*v1alpha1.ClusterPullSecret) *managedCopy {
	owner := pullsecret.Owner(s)
	if owner == "" {
		return nil
	}
	c := &managedCopy{cps: owner}
	if ns, name, ok := strings.Cut(s.Annotations[v1alpha1.AnnotationSource], "/"); ok && ns != "" && name != "" {
		c.sourceNamespace, c.sourceName = ns, name
	} else if cps := cpss[owner]; cps != nil && cps.Spec.Source.SecretRef != nil {
		c.sourceNamespace, c.sourceName = cps.Spec.Source.SecretRef.Namespace, cps.Spec.Source.SecretRef.Name
	} else if cps != nil && cps.Spec.Source.CredentialProvider != nil {
		c.plugin = cps.Spec.Source.CredentialProvider.Name
	}
	return c
}

// sourceOverwrite is the command that replaces the credential of a copy's source, with
// the note that the controller carries it to the copies.
func (c *managedCopy) sourceOverwrite(copyNamespace, copyName, registry, user string) string {
	if c.plugin != "" {
		return fmt.Sprintf("kubectl describe clusterpullsecret %s   # %s is a copy of the credential plugin %s mints: its conditions carry the plugin's error; fix the plugin's configuration (spec.source.credentialProvider) or the identity it uses, never the copy", c.cps, key(copyNamespace, copyName), c.plugin)
	}
	ns, name := c.sourceNamespace, c.sourceName
	if name == "" {
		ns, name = "SOURCE_NAMESPACE", "SOURCE"
	}
	return fmt.Sprintf("printf '%%s' \"$PASSWORD\" | kubectl regcred create %s -n %s --server %s --username %s --password-stdin --overwrite   # %s is a copy: regcred-controller copies its source to every namespace ClusterPullSecret %s targets", name, ns, registry, user, key(copyNamespace, copyName), c.cps)
}

// sourceLookup is the fix line that names the source when the snapshot could not.
func (c *managedCopy) sourceLookup() []string {
	if c.sourceName != "" || c.plugin != "" {
		return nil
	}
	return []string{fmt.Sprintf("kubectl get clusterpullsecret %s -o jsonpath='{.spec.source.secretRef}'   # the source Secret to change", c.cps)}
}

// sourceShow is the command that shows the source as the kubelet reads it.
func (c *managedCopy) sourceShow(comment string) string {
	if c.sourceName == "" {
		return ""
	}
	return fmt.Sprintf("kubectl regcred show %s -n %s%s", c.sourceName, c.sourceNamespace, comment)
}

// brokenCopyFix is the fix for a copy the kubelet skips or cannot parse: regcred never
// writes one (it refuses a source it cannot read), so the copy was changed by hand or
// the controller is not running; it rewrites the copy from the source once it runs.
func (c *managedCopy) brokenCopyFix(copyNamespace, copyName string) []string {
	fix := []string{fmt.Sprintf("kubectl regcred status %s   # regcred-controller rewrites %s from %s; this says why it has not", c.cps, key(copyNamespace, copyName), c.source())}
	fix = append(fix, c.sourceLookup()...)
	if show := c.sourceShow(""); show != "" {
		fix = append(fix, show)
	}
	return append(fix, c.sourceOverwrite(copyNamespace, copyName, "REGISTRY", "USER"))
}

// elsewhereCopyFix is the fix for a pod that names a Secret its namespace lacks while
// other namespaces have it as a copy of a ClusterPullSecret: have the ClusterPullSecret
// target the namespace, rather than copy a copy by hand (regcred would see that copy
// as someone else's Secret, a conflict, and never update it).
func (d *diagnosis) elsewhereCopyFix(p *corev1.Pod, name string, c *managedCopy) []string {
	fix := []string{fmt.Sprintf("kubectl regcred status %s   # Secret %s elsewhere is its copy; this says which namespaces it targets and why", c.cps, name)}
	cps := d.snap.ClusterPullSecrets[c.cps]
	switch {
	case cps == nil:
		return append(fix, fmt.Sprintf("kubectl edit clusterpullsecret %s   # have it target namespace %s", c.cps, p.Namespace))
	case cps.Spec.Source.SecretRef != nil && cps.Spec.Source.SecretRef.Namespace == p.Namespace:
		return append(fix, d.replaceReferenceFix(p, name, cps.Spec.Source.SecretRef.Name, "the source, in this namespace: the source's own namespace never gets a copy")...)
	case pullsecret.Excluded(cps.Spec.ExcludeNamespaces, p.Namespace):
		return append(fix, fmt.Sprintf("kubectl edit clusterpullsecret %s   # take %s out of spec.excludeNamespaces", c.cps, p.Namespace))
	case cps.Spec.NamespaceSelector != nil && len(cps.Spec.NamespaceSelector.MatchExpressions) == 0 && len(cps.Spec.NamespaceSelector.MatchLabels) > 0:
		var labels []string
		for k, v := range cps.Spec.NamespaceSelector.MatchLabels {
			labels = append(labels, k+"="+v)
		}
		slices.Sort(labels)
		return append(fix, fmt.Sprintf("kubectl label namespace %s %s   # ClusterPullSecret %s targets namespaces labelled so: regcred-controller then copies %s here and adds it to the ServiceAccounts it serves", p.Namespace, strings.Join(labels, " "), c.cps, c.source()))
	default:
		return append(fix, fmt.Sprintf("kubectl edit clusterpullsecret %s   # have its spec.namespaceSelector match namespace %s", c.cps, p.Namespace))
	}
}

// copiesByNamespace indexes the regcred copies among the Secrets.
func copiesByNamespace(secrets map[string]*corev1.Secret) map[string][]*corev1.Secret {
	out := map[string][]*corev1.Secret{}
	for _, s := range secrets {
		if pullsecret.Owner(s) != "" {
			out[s.Namespace] = append(out[s.Namespace], s)
		}
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
}

// copyFor returns a regcred copy in the pod's namespace with a credential for the
// image, and its name, or nil.
func (d *diagnosis) copyFor(p *corev1.Pod, image string) (*managedCopy, string) {
	for _, s := range d.copies[p.Namespace] {
		entries, _, err := keyring.FromSecret(s)
		if err != nil {
			continue
		}
		if len(entries) > 0 && matchesAny(entries)(image) {
			return copyOf(s, d.snap.ClusterPullSecrets), s.Name
		}
	}
	return nil, ""
}

// attachCopyFix is the fix for a pod whose namespace has a regcred copy for the image
// that neither the pod nor its ServiceAccount references.
func (d *diagnosis) attachCopyFix(p *corev1.Pod, c *managedCopy, name string) []string {
	note := fmt.Sprintf("ClusterPullSecret %s keeps that copy of %s here", c.cps, c.source())
	if _, origin := d.recreator(p); origin == serviceaccount.OriginServiceAccount {
		note += fmt.Sprintf("; or add %s to its spec.serviceAccounts", serviceAccount(p))
	}
	return d.referenceFix(p, name, note)
}

// gatherClusterPullSecrets reads the ClusterPullSecrets that made the gathered copies:
// one request per ClusterPullSecret. Without the API, or the right to read it, the
// copies' annotations say what they need.
func (s *Snapshot) gatherClusterPullSecrets(ctx context.Context, cs kubernetes.Interface) {
	s.ClusterPullSecrets = map[string]*v1alpha1.ClusterPullSecret{}
	for _, sec := range s.Secrets {
		name := pullsecret.Owner(sec)
		if _, done := s.ClusterPullSecrets[name]; name == "" || done {
			continue
		}
		s.ClusterPullSecrets[name] = nil
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/apis", v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version, "clusterpullsecrets", name).
			SetHeader("Accept", "application/json").Do(ctx).Raw()
		s.Requests++
		var cps v1alpha1.ClusterPullSecret
		if err == nil && json.Unmarshal(raw, &cps) == nil {
			s.ClusterPullSecrets[name] = &cps
		}
	}
}
