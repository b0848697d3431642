//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

// TestHealInCluster: a Deployment of a private image made before any
// ClusterPullSecret gave its namespace the copy, so its pod has no pull Secret and
// waits in ImagePullBackOff. regcred-controller, installed with the chart, under a
// ClusterPullSecret that adds nothing at admission (injectAtAdmission false) and
// patches the ServiceAccounts, evicts that pod; the replacement gets the copy from
// its ServiceAccount and runs. A second Deployment in the namespace, whose pods have
// working credentials of their own and an image tag the registry does not have, is
// left alone: same pod, no Event of regcred's.
func TestHealInCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := local.Client
	dyn, err := dynamic.NewForConfig(local.Config)
	if err != nil {
		t.Fatal(err)
	}
	pw := fmt.Sprint("heal-", time.Now().UnixNano())
	reg := privateRegistry(ctx, t, "heal-e2e", registry.Options{Auth: registry.AuthBasic, Users: map[string]string{"dave": pw}})

	// Before regcred: the namespace, a Deployment whose pod gets no pull Secret,
	// and one whose template names a working Secret of its own and a missing tag.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "heal-app", Labels: map[string]string{"regcred-e2e": "heal"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), "heal-app", metav1.DeleteOptions{}) }()
	if err := cluster.WaitForServiceAccount(ctx, cs, "heal-app", "default"); err != nil {
		t.Fatal(err)
	}
	if err := workload.PullSecret(ctx, cs, "heal-app", "own", reg.Host, "dave", pw); err != nil {
		t.Fatal(err)
	}
	if err := workload.Deployment(ctx, cs, "heal-app", "app", reg.Ref("team/app:1")); err != nil {
		t.Fatal(err)
	}
	if err := workload.Deployment(ctx, cs, "heal-app", "notag", reg.Ref("team/app:missing"), "own"); err != nil {
		t.Fatal(err)
	}
	stuck, err := cluster.WaitForPodSelected(ctx, cs, "heal-app", "app=app", cluster.PodWaiting("ImagePullBackOff"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stuck.Spec.ImagePullSecrets) != 0 {
		t.Fatalf("the first pod has imagePullSecrets %v, want none", stuck.Spec.ImagePullSecrets)
	}
	notag, err := cluster.WaitForPodSelected(ctx, cs, "heal-app", "app=notag", cluster.PodWaiting("ImagePullBackOff"))
	if err != nil {
		t.Fatal(err)
	}

	// Install the controller with the chart, a release of its own.
	const release, releaseNS = "regcred-heal", "regcred-heal-system"
	installController(ctx, t, release, releaseNS, "replicaCount=1")
	uninstalled := false
	defer func() {
		if !uninstalled {
			_ = dyn.Resource(cpsResource).Delete(context.Background(), "team-heal", metav1.DeleteOptions{})
			helmQuiet("uninstall", release, "--namespace", releaseNS, "--wait")
		}
	}()

	if err := workload.Namespace(ctx, cs, "heal-src"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), "heal-src", metav1.DeleteOptions{}) }()
	if err := workload.PullSecret(ctx, cs, "heal-src", "creds", reg.Host, "dave", pw); err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, dyn, "team-heal", `{"apiVersion":"regcred.dev/v1alpha1","kind":"ClusterPullSecret","metadata":{"name":"team-heal"},
		"spec":{"source":{"secretRef":{"namespace":"heal-src","name":"creds"}},"injectAtAdmission":false,
		"namespaceSelector":{"matchLabels":{"regcred-e2e":"heal"}}}}`)

	// The stuck pod is evicted, with an Event that says why, and the replacement
	// runs with the copy its ServiceAccount now lists.
	ev, err := cluster.WaitForEvent(ctx, cs, "heal-app", stuck.Name, func(e *corev1.Event) bool {
		return e.InvolvedObject.UID == stuck.UID && e.Reason == v1alpha1.ReasonEvictedStuckPod
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Event about %s: %s", stuck.Name, ev.Message)
	waitFor(ctx, t, "first pod gone", func() error {
		p, err := cs.CoreV1().Pods("heal-app").Get(ctx, stuck.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && p.UID != stuck.UID) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	waitFor(ctx, t, "a replacement running", func() error {
		list, err := cs.CoreV1().Pods("heal-app").List(ctx, metav1.ListOptions{LabelSelector: "app=app"})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if ok, _ := cluster.PodRunning(&p); ok && p.UID != stuck.UID {
				if !slices.ContainsFunc(p.Spec.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == "team-heal" }) {
					return fmt.Errorf("replacement %s runs with imagePullSecrets %v", p.Name, p.Spec.ImagePullSecrets)
				}
				return nil
			}
		}
		return fmt.Errorf("no new pod running among %d", len(list.Items))
	})

	// The missing tag: the pod that was there keeps waiting, untouched, through
	// the kubelet's retries while the controller watches.
	time.Sleep(30 * time.Second)
	list, err := cs.CoreV1().Pods("heal-app").List(ctx, metav1.ListOptions{LabelSelector: "app=notag"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].UID != notag.UID {
		t.Errorf("the Deployment with a missing tag has %d pods, want only %s", len(list.Items), notag.Name)
	} else if ok, _ := cluster.PodWaiting("ImagePullBackOff", "ErrImagePull")(&list.Items[0]); !ok {
		t.Errorf("pod %s: %+v, want it still waiting for its image", notag.Name, list.Items[0].Status.ContainerStatuses)
	}
	events, err := cs.CoreV1().Events("heal-app").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(notag.UID)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == v1alpha1.ReasonEvictedStuckPod || e.Reason == v1alpha1.ReasonStuckPod {
			t.Errorf("Event about the pod with a missing tag: %s: %s", e.Reason, e.Message)
		}
	}

	// Uninstall: the ClusterPullSecret first, so that its copies go, then the release.
	removeCPS(ctx, t, dyn, "team-heal")
	helm(ctx, t, "uninstall", release, "--namespace", releaseNS, "--wait")
	uninstalled = true
	if err := cs.CoreV1().Namespaces().Delete(ctx, releaseNS, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
}
