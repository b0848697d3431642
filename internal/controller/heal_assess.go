package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/pullsecret"
)

// action is what the healer does with one pod.
type action int

const (
	// leave: not stuck on credentials, or no copy would serve it: not regcred's business.
	leave action = iota
	// wait: the pod references the copy; the kubelet reads it at its next retry.
	wait
	// evict: its controller recreates it, and the replacement gets the copy.
	evict
	// report: it would pull with the copy, and regcred does not evict it.
	report
)

// verdict is the healer's view of one pod.
type verdict struct {
	action action
	cps    *v1alpha1.ClusterPullSecret
	copy   string                 // the copy's name
	owner  *metav1.OwnerReference // the controller that recreates the pod (evict)
	// cause is the doctor's finding that makes it a credential failure.
	cause string
	// why says, for report, why regcred does not evict it and what to do.
	why string
}

// pullWaits are the waiting reasons of a container whose pull failed.
var pullWaits = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true}

// stuckPulling reports whether a pending pod waits in ErrImagePull or
// ImagePullBackOff, and returns the images it waits for.
func stuckPulling(p *corev1.Pod) []string {
	if p.Status.Phase != corev1.PodPending || p.DeletionTimestamp != nil {
		return nil
	}
	var images []string
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, s := range list {
			if w := s.State.Waiting; w != nil && pullWaits[w.Reason] {
				if image := imageOf(p, s.Name, s.Image); !slices.Contains(images, image) {
					images = append(images, image)
				}
			}
		}
	}
	return images
}

// imageOf is the image of the container in the pod's spec, which is what the kubelet
// pulls (the status may show a resolved form).
func imageOf(p *corev1.Pod, name, fallback string) string {
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			if c.Name == name {
				return c.Image
			}
		}
	}
	return fallback
}

// credentialCodes are the doctor's causes that a copy the pod lacks can cure: no
// credential sent, or one the registry refuses, next to which the kubelet would try
// the copy's. A Secret the kubelet cannot parse (SecretMalformed) is not among them:
// it stops every pull, with the copy or without.
var credentialCodes = map[doctor.Code]bool{
	doctor.NoMatchingCredential:            true,
	doctor.ServiceAccountSecretsNotApplied: true,
	doctor.CredentialRejected:              true,
	doctor.AccessDenied:                    true,
	doctor.EmptyCredential:                 true,
	doctor.SecretNotFound:                  true,
	doctor.SecretWrongType:                 true,
	doctor.NodeLocalCredential:             true,
}

// recreatingKinds are the controllers that make a new pod for one evicted.
var recreatingKinds = map[string]string{"ReplicaSet": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "Job": "batch"}

// assess decides what to do with a pod stuck pulling images. It reads the caches,
// and the API server only for the pod's own pull Secrets, once the cheap checks
// have found a copy that would serve it.
func (h *healer) assess(ctx context.Context, p *corev1.Pod, images []string) (verdict, error) {
	cps, copySecret, err := h.servingCopy(ctx, p, images)
	if err != nil || cps == nil {
		return verdict{action: leave}, err
	}
	v := verdict{cps: cps, copy: copySecret.Name}
	if slices.ContainsFunc(p.Spec.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == v.copy }) {
		v.action = wait
		return v, nil
	}
	cause, err := h.credentialCause(ctx, p, cps, copySecret)
	if err != nil || cause == "" {
		return verdict{action: leave}, err
	}
	v.cause = cause
	ref := metav1.GetControllerOf(p)
	if ref == nil || !recreated(ref) {
		v.action, v.why = report, "no controller recreates it, and regcred never deletes a pod that nothing recreates"
		if ref != nil {
			v.why = fmt.Sprintf("its controller, %s %s, is not one regcred knows to recreate it (ReplicaSet, StatefulSet, DaemonSet, Job)", ref.Kind, ref.Name)
		}
		v.why += fmt.Sprintf("; recreate it with imagePullSecrets [{name: %s}]", v.copy)
		return v, nil
	}
	v.owner = ref
	why, later, err := h.replacementLacks(ctx, p, cps, v.copy)
	switch {
	case err != nil || later:
		return verdict{action: leave}, err
	case why != "":
		v.action, v.why = report, why
		return v, nil
	}
	v.action = evict
	return v, nil
}

func recreated(ref *metav1.OwnerReference) bool {
	group, ok := recreatingKinds[ref.Kind]
	return ok && strings.HasPrefix(ref.APIVersion, group+"/")
}

// servingCopy returns the first ClusterPullSecret, by name, that heals pods in the
// pod's namespace and whose copy there has a credential for every image the pod
// waits for, with that copy; nil when there is none.
func (h *healer) servingCopy(ctx context.Context, p *corev1.Pod, images []string) (*v1alpha1.ClusterPullSecret, *corev1.Secret, error) {
	ns := metaOf("Namespace")
	if err := h.cached.Get(ctx, types.NamespacedName{Name: p.Namespace}, ns); err != nil {
		return nil, nil, client.IgnoreNotFound(err)
	}
	var list v1alpha1.ClusterPullSecretList
	if err := h.cached.List(ctx, &list); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.ClusterPullSecret) int { return strings.Compare(a.Name, b.Name) })
	for i := range list.Items {
		cps := &list.Items[i]
		if cps.DeletionTimestamp != nil || !cps.HealsStuckPods() {
			continue
		}
		if sel, err := pullsecret.NewSelector(cps); err != nil || !sel.Targets(ns) {
			continue
		}
		var s corev1.Secret
		if err := h.cached.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: cps.TargetSecretName()}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, nil, err
		}
		if pullsecret.Owner(&s) != cps.Name || !serves(&s, images) {
			continue
		}
		return cps, &s, nil
	}
	return nil, nil, nil
}

// serves reports whether the Secret has, as the kubelet reads it, a credential for
// every image.
func serves(s *corev1.Secret, images []string) bool {
	entries, _, err := keyring.FromSecret(s)
	if err != nil || len(entries) == 0 {
		return false
	}
	for _, image := range images {
		res, err := keyring.Lookup(image, entries)
		if err != nil || len(res.Matches) == 0 {
			return false
		}
	}
	return true
}

// credentialCause runs the doctor, offline, on the pod with its pull Secrets, its
// ServiceAccount and the copy, and returns its finding when every error it finds is
// about credentials ("code: message"), or "".
func (h *healer) credentialCause(ctx context.Context, p *corev1.Pod, cps *v1alpha1.ClusterPullSecret, copySecret *corev1.Secret) (string, error) {
	snap := &doctor.Snapshot{
		Pods:               []corev1.Pod{*p},
		ServiceAccounts:    map[string]*corev1.ServiceAccount{},
		Secrets:            map[string]*corev1.Secret{p.Namespace + "/" + copySecret.Name: copySecret},
		Events:             map[string][]corev1.Event{},
		Elsewhere:          map[string][]string{},
		ClusterPullSecrets: map[string]*v1alpha1.ClusterPullSecret{cps.Name: cps},
	}
	saName := serviceAccountOf(p)
	var sa corev1.ServiceAccount
	switch err := h.cached.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: saName}, &sa); {
	case err == nil:
		snap.ServiceAccounts[p.Namespace+"/"+saName] = &sa
	case !apierrors.IsNotFound(err):
		return "", err
	}
	for _, ref := range p.Spec.ImagePullSecrets {
		var s corev1.Secret
		switch err := h.live.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: ref.Name}, &s); {
		case err == nil:
			snap.Secrets[p.Namespace+"/"+ref.Name] = &s
		case !apierrors.IsNotFound(err):
			return "", fmt.Errorf("read pull Secret %s/%s of pod %s: %w", p.Namespace, ref.Name, p.Name, err)
		}
	}
	var first *doctor.Finding
	for _, f := range doctor.Diagnose(ctx, snap, doctor.Options{}).Findings {
		if f.Severity != doctor.SeverityError {
			continue
		}
		if !credentialCodes[f.Code] {
			return "", nil
		}
		if first == nil {
			first = &f
		}
	}
	if first == nil {
		return "", nil
	}
	return string(first.Code) + ": " + first.Message, nil
}

// replacementLacks says why a new pod of the same template would not get the copy
// either, or "" when it would: through the admission policy, or through its
// ServiceAccount. (A template that sets its own imagePullSecrets gets nothing from
// its ServiceAccount; the healer finds that out from the replacement.) wait is set
// when the ServiceAccount is to get the copy and has not yet: its update brings the
// pod back.
func (h *healer) replacementLacks(ctx context.Context, p *corev1.Pod, cps *v1alpha1.ClusterPullSecret, copyName string) (why string, wait bool, err error) {
	sa := serviceAccountOf(p)
	if !cps.Serves(sa) {
		return fmt.Sprintf("its ServiceAccount %s is not one ClusterPullSecret %s serves (spec.serviceAccounts), so a new pod would not get %s either: add it there, or add %s to the pod template's imagePullSecrets", sa, cps.Name, copyName, copyName), false, nil
	}
	if cps.Injects() && meta.IsStatusConditionTrue(cps.Status.Conditions, v1alpha1.ConditionInjection) {
		return "", false, nil
	}
	if !cps.PatchesServiceAccounts() {
		return fmt.Sprintf("ClusterPullSecret %s neither patches ServiceAccounts nor adds %s at admission (condition %s), so a new pod would not get it either", cps.Name, copyName, v1alpha1.ConditionInjection), false, nil
	}
	var got corev1.ServiceAccount
	if err := h.cached.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: sa}, &got); err != nil && !apierrors.IsNotFound(err) {
		return "", false, err
	}
	if slices.ContainsFunc(got.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == copyName }) {
		return "", false, nil
	}
	return "", true, nil
}

func serviceAccountOf(p *corev1.Pod) string {
	if p.Spec.ServiceAccountName != "" {
		return p.Spec.ServiceAccountName
	}
	return "default"
}
