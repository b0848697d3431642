package doctor

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/keyring"
)

// A cluster's pods come in groups that name the same pull Secrets in one namespace:
// the replicas of a workload, and every pod admission copied its ServiceAccount's list
// into. What those Secrets give the kubelet is read once per group, and each image
// looked up in them once, however many pods and probe rounds ask again. Groups of
// many namespaces often have Secrets with the same keys and other credentials (a
// ClusterPullSecret's copies, a registry's user per team): an image is read against
// those keys once (keyring.Cache).

// lookupResult is a memoized keyring.Lookup.
type lookupResult struct {
	res keyring.Result
	err error
}

// lookup is keyring.Lookup of the image in the pod's usable entries, memoized for
// credentials shared by a group of pods. The result is shared: read it, never change it.
func (pc podCreds) lookup(image string) (keyring.Result, error) {
	if pc.lookups == nil {
		return pc.keys.Lookup(image, pc.entries)
	}
	r, ok := pc.lookups[image]
	if !ok {
		r.res, r.err = pc.keys.Lookup(image, pc.entries)
		pc.lookups[image] = r
	}
	return r.res, r.err
}

// credentialsOf is podCredentials, read once for the pods of a namespace that name the
// same pull Secrets. Credentials with findings about their Secrets are the pod's own
// (findings name the pod), and so are a template's, whose list may come from its
// ServiceAccount.
func (d *diagnosis) credentialsOf(p *corev1.Pod) podCreds {
	if d.opts.Static {
		return d.podCredentials(p)
	}
	k := append(d.sharedKey[:0], p.Namespace...)
	for _, ref := range p.Spec.ImagePullSecrets {
		k = append(append(k, 0), ref.Name...)
	}
	d.sharedKey = k
	if pc, ok := d.shared[string(k)]; ok {
		return pc
	}
	pc := d.podCredentials(p)
	if len(pc.findings) > 0 {
		return pc
	}
	pc.lookups = map[string]lookupResult{}
	if d.shared == nil {
		d.shared = map[string]podCreds{}
	}
	d.shared[string(k)] = pc
	return pc
}
