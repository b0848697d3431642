package pullsecret

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/api/v1alpha1"
)

func TestTargets(t *testing.T) {
	now := metav1.NewTime(time.Now())
	cps := &v1alpha1.ClusterPullSecret{Spec: v1alpha1.ClusterPullSecretSpec{
		Source:            v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: "src", Name: "creds"}},
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"dev", "prod"}}}},
		ExcludeNamespaces: []string{"kube-*", "*-sandbox", "exact"},
	}}
	sel, err := NewSelector(cps)
	if err != nil {
		t.Fatal(err)
	}
	ns := func(name, env string, terminating bool) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"env": env}}}
		if terminating {
			n.DeletionTimestamp = &now
		}
		return n
	}
	cases := []struct {
		name string
		ns   *corev1.Namespace
		want bool
	}{
		{"matches", ns("team-a", "dev", false), true},
		{"label does not match", ns("team-a", "test", false), false},
		{"source namespace", ns("src", "dev", false), false},
		{"terminating", ns("team-a", "dev", true), false},
		{"glob prefix", ns("kube-system", "prod", false), false},
		{"glob suffix", ns("a-sandbox", "prod", false), false},
		{"exact exclude", ns("exact", "prod", false), false},
		{"exclude is not a substring match", ns("exactly", "prod", false), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sel.Targets(tc.ns); got != tc.want {
				t.Errorf("Targets(%s) = %v, want %v", tc.ns.Name, got, tc.want)
			}
		})
	}
	empty, err := NewSelector(&v1alpha1.ClusterPullSecret{})
	if err != nil {
		t.Fatal(err)
	}
	if !empty.Targets(ns("any", "", false)) {
		t.Error("an empty selector must target every namespace")
	}
}

func TestContentFrom(t *testing.T) {
	secret := func(typ corev1.SecretType, key, data string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: "s"}, Type: typ, Data: map[string][]byte{key: []byte(data)}}
	}
	cases := []struct {
		name    string
		s       *corev1.Secret
		want    string
		wantErr error
	}{
		{"dockerconfigjson byte for byte", secret(corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{"r":{"username":"u","password":"p"}}}`), `{"auths":{"r":{"username":"u","password":"p"}}}`, nil},
		{"dockercfg wrapped", secret(corev1.SecretTypeDockercfg, ".dockercfg", `{"r":{"username":"u","password":"p"}}`), `{"auths":{"r":{"username":"u","password":"p"}}}`, nil},
		{"opaque", secret(corev1.SecretTypeOpaque, ".dockerconfigjson", `{"auths":{}}`), "", ErrSourceWrongType},
		{"bad base64 auth", secret(corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{"r":{"auth":"!!"}}}`), "", ErrSourceMalformed},
		{"no auths", secret(corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{}`), "", ErrSourceMalformed},
		{"empty auths", secret(corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths":{}}`), "", ErrSourceMalformed},
		{"empty dockercfg", secret(corev1.SecretTypeDockercfg, ".dockercfg", `{}`), "", ErrSourceMalformed},
		{"no data", secret(corev1.SecretTypeDockerConfigJson, "other", `x`), "", ErrSourceMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ContentFrom(tc.s)
			if tc.wantErr != nil {
				if err == nil || !errors.Is(err, tc.wantErr) {
					t.Fatalf("ContentFrom = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(c.DockerConfigJSON) != tc.want || len(c.Hash) != 64 || c.Source != "n/s" {
				t.Errorf("ContentFrom = %s %s %s", c.DockerConfigJSON, c.Hash, c.Source)
			}
		})
	}
}
