package deploy_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/regcred/regcred/test/apiserver"
)

// warnings keeps the warnings the API server sends (Pod Security among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// Every object the chart and config/default render is accepted by a real
// kube-apiserver (server-side dry run, unknown fields refused), in a namespace that
// enforces and warns about the restricted Pod Security Standard, without a warning.
func TestManifestsOnAPIServer(t *testing.T) {
	ctx := context.Background()
	h := chart(t, "apiServer.host=10.245.0.1", "apiServer.port=6443")
	k := kustomized(t)

	srv, err := apiserver.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	cfg := rest.CopyConfig(srv.Config)
	warn := &warnings{}
	cfg.WarningHandler = warn
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	resource := func(o *unstructured.Unstructured) dynamic.ResourceInterface {
		t.Helper()
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", gvk, o.GetName(), err)
		}
		if m.Scope.Name() == "namespace" {
			if o.GetNamespace() == "" {
				t.Fatalf("%s %s is namespaced and has no namespace", gvk.Kind, o.GetName())
			}
			return dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		return dyn.Resource(m.Resource)
	}

	// The namespace for real: config/default's own, which the chart's release uses too.
	ns := find(t, k, "Namespace")
	if _, err := resource(ns).Create(ctx, ns, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
		t.Fatal(err)
	}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
	for _, set := range []struct {
		name string
		objs []*unstructured.Unstructured
	}{{"chart", h}, {"config/default", k}} {
		for _, o := range set.objs {
			if o.GetKind() == "Namespace" {
				continue
			}
			if _, err := resource(o).Create(ctx, o, dryRun); err != nil {
				t.Errorf("%s: create %s %s: %v", set.name, o.GetKind(), o.GetName(), err)
			}
			if w := warn.take(); len(w) > 0 {
				t.Errorf("%s: create %s %s: warnings %q", set.name, o.GetKind(), o.GetName(), w)
			}
		}
	}

	// The same check would speak up: a Deployment that may escalate privileges warns.
	d := deployment(t, h)
	d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities = &corev1.Capabilities{}
	u, err := toUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(d.Namespace).Create(ctx, u, dryRun); err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(warn.take(), "\n"); !strings.Contains(w, "restricted") {
		t.Errorf("a Deployment that breaks the restricted standard: warnings %q, want Pod Security's", w)
	}
}
