package pullsecret

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
)

// Content is what every copy of a source holds.
type Content struct {
	// DockerConfigJSON is the .dockerconfigjson of the copies.
	DockerConfigJSON []byte
	// Hash is the hex SHA-256 of DockerConfigJSON.
	Hash string
	// Source is the source Secret, as namespace/name.
	Source string
}

// Errors of ContentFrom, for the Degraded reason.
var (
	ErrSourceWrongType = errors.New("source Secret is not a pull Secret")
	ErrSourceMalformed = errors.New("source Secret is malformed")
)

// ContentFrom reads a source Secret the way the kubelet reads a pull Secret and
// returns what its copies hold. A .dockercfg source becomes {"auths": ...}; a
// .dockerconfigjson is copied byte for byte. A Secret the kubelet would skip or fail
// on, or one with no credential in it, is an error wrapping ErrSourceWrongType or
// ErrSourceMalformed, with the parse error's words.
func ContentFrom(s *corev1.Secret) (*Content, error) {
	cfg, err := dockercfg.FromSecret(s)
	switch {
	case errors.Is(err, dockercfg.ErrWrongType):
		return nil, fmt.Errorf("%w: %w", ErrSourceWrongType, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrSourceMalformed, err)
	case cfg.Format == dockercfg.ConfigJSON && !cfg.HasAuths:
		return nil, fmt.Errorf("%w: secret %s/%s: %s", ErrSourceMalformed, s.Namespace, s.Name, `no "auths" object, so no credential`)
	case len(cfg.Entries) == 0:
		return nil, fmt.Errorf("%w: secret %s/%s: no registry entry, so no credential", ErrSourceMalformed, s.Namespace, s.Name)
	}
	data := s.Data[corev1.DockerConfigJsonKey]
	if s.Type == corev1.SecretTypeDockercfg {
		raw := s.Data[corev1.DockerConfigKey]
		data = make([]byte, 0, len(raw)+11)
		data = append(append(append(data, `{"auths":`...), raw...), '}')
	}
	sum := sha256.Sum256(data)
	return &Content{DockerConfigJSON: data, Hash: hex.EncodeToString(sum[:]), Source: s.Namespace + "/" + s.Name}, nil
}

// Copy is the Secret the ClusterPullSecret wants in the namespace.
func Copy(cps *v1alpha1.ClusterPullSecret, namespace string, c *Content) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: cps.TargetSecretName()},
		Type:       corev1.SecretTypeDockerConfigJson,
	}
	SetCopy(s, cps, c)
	return s
}

// SetCopy makes s hold the content, with regcred's labels, annotations and owner
// reference; it keeps whatever else s's metadata carries.
func SetCopy(s *corev1.Secret, cps *v1alpha1.ClusterPullSecret, c *Content) {
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedBy
	s.Labels[v1alpha1.LabelClusterPullSecret] = cps.Name
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[v1alpha1.AnnotationContentHash] = c.Hash
	s.Annotations[v1alpha1.AnnotationSource] = c.Source
	refs := s.OwnerReferences[:0:0]
	for _, r := range s.OwnerReferences {
		if !isCPSRef(r, cps.Name) {
			refs = append(refs, r)
		}
	}
	s.OwnerReferences = append(refs, OwnerReference(cps))
	s.Data = map[string][]byte{corev1.DockerConfigJsonKey: c.DockerConfigJSON}
}

// OwnerReference points a copy at its ClusterPullSecret. It blocks nothing: the
// copy goes when regcred removes it, or by garbage collection if the object is
// removed without its finalizer.
func OwnerReference(cps *v1alpha1.ClusterPullSecret) metav1.OwnerReference {
	f := false
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterPullSecret",
		Name: cps.Name, UID: cps.UID, BlockOwnerDeletion: &f,
	}
}

// Owner returns the name of the ClusterPullSecret that made the Secret, or "" when
// regcred did not make it: regcred's copies carry its label and an owner reference
// to the ClusterPullSecret that label names.
func Owner(s metav1.Object) string {
	name := s.GetLabels()[v1alpha1.LabelClusterPullSecret]
	if name == "" {
		return ""
	}
	for _, r := range s.GetOwnerReferences() {
		if isCPSRef(r, name) {
			return name
		}
	}
	return ""
}

// UpToDate reports whether a copy already holds the content: its data, type,
// annotations, label and owner reference UID.
func UpToDate(s *corev1.Secret, cps *v1alpha1.ClusterPullSecret, c *Content) bool {
	if s.Type != corev1.SecretTypeDockerConfigJson || !bytes.Equal(s.Data[corev1.DockerConfigJsonKey], c.DockerConfigJSON) ||
		len(s.Data) != 1 || s.Annotations[v1alpha1.AnnotationContentHash] != c.Hash ||
		s.Annotations[v1alpha1.AnnotationSource] != c.Source || s.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedBy {
		return false
	}
	for _, r := range s.OwnerReferences {
		if isCPSRef(r, cps.Name) {
			return r.UID == cps.UID
		}
	}
	return false
}

func isCPSRef(r metav1.OwnerReference, name string) bool {
	return r.Kind == "ClusterPullSecret" && r.Name == name && r.APIVersion == v1alpha1.GroupVersion.String()
}
