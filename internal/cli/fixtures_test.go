package cli_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/registry"
)

var nsCounter atomic.Int32

// newNamespace makes a namespace with a default ServiceAccount (envtest runs no
// controller manager to make it).
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("%s-%d", prefix, nsCounter.Add(1))
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newServiceAccount(t, name, "default")
	return name
}

func newServiceAccount(t *testing.T, ns, name string, pullSecrets ...string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	for _, s := range pullSecrets {
		sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func alicePassword() string { return regs.Passwords[registry.UserAlice] }

// secretConfig reads a Secret back and parses it as the kubelet would.
func secretConfig(t *testing.T, ns, name string) *dockercfg.Config {
	t.Helper()
	s, err := kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := dockercfg.FromSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func secretExists(t *testing.T, ns, name string) bool {
	t.Helper()
	_, err := kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

// noPassword fails when a password shows in command output.
func noPassword(t *testing.T, outputs ...string) {
	t.Helper()
	for _, pw := range regs.Passwords {
		for _, o := range outputs {
			if strings.Contains(o, pw) {
				t.Errorf("a password appears in the output: %q", o)
			}
		}
	}
}
