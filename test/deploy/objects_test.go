package deploy_test

import (
	"context"
	"slices"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/regcred/regcred/test/deploy"
)

// chart renders the chart as release "regcred" in regcred-system.
func chart(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := deploy.Chart(context.Background(), "regcred", "regcred-system", set...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// kustomized builds config/default.
func kustomized(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := deploy.Kustomize(deploy.ConfigDir() + "/default")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// names lists objects as "Kind namespace/name", sorted.
func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}

// find returns the one object of kind, failing the test when there is not exactly one.
func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s in %q, want 1", len(found), kind, names(objs))
	}
	return found[0]
}

// has reports whether objs hold an object of kind.
func has(objs []*unstructured.Unstructured, kind string) bool {
	return slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind })
}

// as converts an object to its Go type, failing on fields the type does not have.
func as[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	v := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, v, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return v
}

func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	return as[appsv1.Deployment](t, find(t, objs, "Deployment"))
}

func controller(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment has %d containers, want 1", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

func rules(t *testing.T, objs []*unstructured.Unstructured, kind string) []rbacv1.PolicyRule {
	t.Helper()
	switch kind {
	case "ClusterRole":
		return as[rbacv1.ClusterRole](t, find(t, objs, kind)).Rules
	default:
		return as[rbacv1.Role](t, find(t, objs, kind)).Rules
	}
}

// envNames lists a container's environment variables by name.
func envNames(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		out = append(out, e.Name)
	}
	return out
}

// env returns the value of a container's environment variable, and whether it is set.
func env(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// toUnstructured converts a typed object back for a dynamic client.
func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}
