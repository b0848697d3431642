package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
)

// eventually retries check until it returns nil, or fails the test with its last
// error after the timeout.
func eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %s: %v", what, timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func pullConfig(t testing.TB, host, user, password string) []byte {
	t.Helper()
	b, err := dockercfg.Marshal(dockercfg.Server{Key: host, Credential: dockercfg.Credential{Username: user, Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func makeNamespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func makeServiceAccount(t testing.TB, ns, name string, pullSecrets ...string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, p := range pullSecrets {
		sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: p})
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// sourceSecret makes the source Secret, of type dockerconfigjson, in its own namespace.
func sourceSecret(t testing.TB, ns, name string, data []byte) {
	t.Helper()
	makeNamespace(t, ns, nil)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func makeCPS(t testing.TB, name, srcNS, srcName string, mutate func(*v1alpha1.ClusterPullSecret)) *v1alpha1.ClusterPullSecret {
	t.Helper()
	cps := &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source: v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: srcNS, Name: srcName}},
		},
	}
	if mutate != nil {
		mutate(cps)
	}
	if err := cl.Create(context.Background(), cps); err != nil {
		t.Fatal(err)
	}
	return cps
}

func getCPS(t testing.TB, name string) *v1alpha1.ClusterPullSecret {
	t.Helper()
	var cps v1alpha1.ClusterPullSecret
	if err := cl.Get(context.Background(), types.NamespacedName{Name: name}, &cps); err != nil {
		t.Fatal(err)
	}
	return &cps
}

func updateCPS(t testing.TB, name string, mutate func(*v1alpha1.ClusterPullSecret)) {
	t.Helper()
	eventually(t, 10*time.Second, "update ClusterPullSecret "+name, func() error {
		var cps v1alpha1.ClusterPullSecret
		if err := cl.Get(context.Background(), types.NamespacedName{Name: name}, &cps); err != nil {
			return err
		}
		mutate(&cps)
		return cl.Update(context.Background(), &cps)
	})
}

// copyIn checks that the namespace holds regcred's copy with the content.
func copyIn(ns, name string, want []byte) error {
	s, err := kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if s.Type != corev1.SecretTypeDockerConfigJson {
		return fmt.Errorf("copy %s/%s has type %s", ns, name, s.Type)
	}
	if string(s.Data[corev1.DockerConfigJsonKey]) != string(want) {
		return fmt.Errorf("copy %s/%s holds other content", ns, name)
	}
	return nil
}

func noSecret(ns, name string) error {
	_, err := kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("secret %s/%s still exists", ns, name)
}

// pullSecretsOf returns a ServiceAccount's imagePullSecrets names, in order.
func pullSecretsOf(t testing.TB, ns, name string) []string {
	t.Helper()
	sa, err := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range sa.ImagePullSecrets {
		out = append(out, r.Name)
	}
	return out
}

func refs(ns, sa string, want ...string) error {
	got, err := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), sa, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var names []string
	for _, r := range got.ImagePullSecrets {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, want) {
		return fmt.Errorf("ServiceAccount %s/%s imagePullSecrets = %v, want %v", ns, sa, names, want)
	}
	return nil
}

// statusIs checks the ClusterPullSecret's counts and Ready condition.
func statusIs(name string, want v1alpha1.NamespaceCounts, ready metav1.ConditionStatus) error {
	var cps v1alpha1.ClusterPullSecret
	if err := cl.Get(context.Background(), types.NamespacedName{Name: name}, &cps); err != nil {
		return err
	}
	if cps.Status.Namespaces != want {
		return fmt.Errorf("status.namespaces = %+v, want %+v (notSynced %+v)", cps.Status.Namespaces, want, cps.Status.NotSynced)
	}
	c := meta.FindStatusCondition(cps.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Status != ready {
		return fmt.Errorf("Ready = %+v, want %s", c, ready)
	}
	if cps.Status.ObservedGeneration != cps.Generation {
		return fmt.Errorf("observedGeneration %d, generation %d", cps.Status.ObservedGeneration, cps.Generation)
	}
	return nil
}

func degradedReason(t testing.TB, name string) (string, string) {
	t.Helper()
	c := meta.FindStatusCondition(getCPS(t, name).Status.Conditions, v1alpha1.ConditionDegraded)
	if c == nil {
		return "", ""
	}
	if c.Status != metav1.ConditionTrue {
		return "", c.Message
	}
	return c.Reason, c.Message
}

// recorded returns regcred's record on a ServiceAccount.
func recorded(t testing.TB, ns, name string) map[string]string {
	t.Helper()
	sa, err := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if v := sa.Annotations[v1alpha1.AnnotationAddedPullSecrets]; v != "" {
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// regcredObjects lists every Secret carrying regcred's label and every
// ServiceAccount carrying its record, in the namespaces with the prefix.
func regcredObjects(t testing.TB, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	secrets, err := kube.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelClusterPullSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		if strings.HasPrefix(s.Namespace, prefix) {
			out = append(out, "secret "+s.Namespace+"/"+s.Name)
		}
	}
	sas, err := kube.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range sas.Items {
		if strings.HasPrefix(sa.Namespace, prefix) && (sa.Annotations[v1alpha1.AnnotationAddedPullSecrets] != "") {
			out = append(out, "serviceaccount "+sa.Namespace+"/"+sa.Name)
		}
	}
	return out
}

var _ = client.Object(nil)
