// Package workload makes the namespaces, pull Secrets and Deployments that the
// end-to-end suites and the demo put on a cluster, the way users make them by hand
// (kubectl create secret docker-registry, kubectl patch serviceaccount,
// kubectl rollout restart).
package workload

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/test/cluster"
)

// Namespace creates a namespace and waits for its default ServiceAccount.
func Namespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return cluster.WaitForServiceAccount(ctx, cs, name, "default")
}

// PullSecret creates what `kubectl create secret docker-registry NAME
// --docker-server=SERVER --docker-username=USER --docker-password=PASS` creates.
func PullSecret(ctx context.Context, cs kubernetes.Interface, namespace, name, server, user, pass string) error {
	cfg := map[string]any{"auths": map[string]any{server: map[string]string{
		"username": user,
		"password": pass,
		"auth":     base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
	}}}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode docker config: %w", err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
	if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create secret %s/%s: %w", namespace, name, err)
	}
	return nil
}

// AttachToServiceAccount is the documented recipe `kubectl patch serviceaccount SA -p
// '{"imagePullSecrets":[{"name":"SECRET"}]}'`, which replaces the whole list.
func AttachToServiceAccount(ctx context.Context, cs kubernetes.Interface, namespace, sa, secret string) error {
	patch := fmt.Sprintf(`{"imagePullSecrets":[{"name":%q}]}`, secret)
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Patch(ctx, sa, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch serviceaccount %s/%s: %w", namespace, sa, err)
	}
	return nil
}

// Deployment creates a one-replica Deployment of image whose pods carry the label
// app=NAME, with the pod-level pull Secrets given (none: the ServiceAccount's apply).
func Deployment(ctx context.Context, cs kubernetes.Interface, namespace, name, image string, pullSecrets ...string) error {
	return DeploymentWith(ctx, cs, namespace, name, image, func(spec *corev1.PodSpec) {
		for _, s := range pullSecrets {
			spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
	})
}

// DeploymentWith is Deployment with a change to the pod spec (a pull policy, a list of
// pull Secrets).
func DeploymentWith(ctx context.Context, cs kubernetes.Interface, namespace, name, image string, edit func(*corev1.PodSpec)) error {
	one := int32(1)
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{{Name: "app", Image: image}},
					TerminationGracePeriodSeconds: new(int64),
				},
			},
		},
	}
	edit(&d.Spec.Template.Spec)
	if _, err := cs.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Secret creates a Secret of any type with the given data, for the broken shapes users
// make by hand (an Opaque Secret holding .dockerconfigjson, a malformed auth).
func Secret(ctx context.Context, cs kubernetes.Interface, namespace, name string, typ corev1.SecretType, data map[string]string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Type: typ, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create secret %s/%s: %w", namespace, name, err)
	}
	return nil
}

// RolloutRestart is `kubectl rollout restart deployment NAME`.
func RolloutRestart(ctx context.Context, cs kubernetes.Interface, namespace, name string) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := cs.AppsV1().Deployments(namespace).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("restart deployment %s/%s: %w", namespace, name, err)
	}
	return nil
}
