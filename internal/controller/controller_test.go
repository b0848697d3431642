package controller_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/regcred/regcred/api/v1alpha1"
)

const waitFor = 20 * time.Second

// selectTest is a namespaceSelector for the namespaces a test labels as its own, so
// that tests sharing the API server never target each other's namespaces.
func selectTest(name string) func(*v1alpha1.ClusterPullSecret) {
	return func(c *v1alpha1.ClusterPullSecret) {
		c.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"test": name}}
	}
}

// deleteCPS deletes the ClusterPullSecret and waits until it is gone.
func deleteCPS(t testing.TB, name string) {
	t.Helper()
	if err := cl.Delete(context.Background(), &v1alpha1.ClusterPullSecret{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, waitFor, "ClusterPullSecret "+name+" gone", func() error {
		var cps v1alpha1.ClusterPullSecret
		err := cl.Get(context.Background(), types.NamespacedName{Name: name}, &cps)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (finalizers %v): %v", cps.Finalizers, err)
	})
}

func TestFanOutNewNamespaceAndDelete(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example:5000", "alice", "s3cret")
	sourceSecret(t, "fan-src", "creds", data)
	lbl := map[string]string{"test": "fan"}
	for i := range 5 {
		ns := fmt.Sprintf("fan-%d", i)
		makeNamespace(t, ns, lbl)
		makeServiceAccount(t, ns, "default")
		makeServiceAccount(t, ns, "builder")
	}
	makeNamespace(t, "fan-other", nil) // not selected
	makeServiceAccount(t, "fan-other", "default")
	makeCPS(t, "fan", "fan-src", "creds", selectTest("fan"))

	for i := range 5 {
		ns := fmt.Sprintf("fan-%d", i)
		eventually(t, waitFor, "copy in "+ns, func() error { return copyIn(ns, "fan", data) })
		eventually(t, waitFor, "reference in "+ns, func() error { return refs(ns, "default", "fan") })
		if err := refs(ns, "builder"); err != nil {
			t.Error(err) // only "default" is served
		}
	}
	if err := noSecret("fan-other", "fan"); err != nil {
		t.Error(err)
	}
	if err := noSecret("fan-src", "fan"); err != nil {
		t.Error(err)
	}
	eventually(t, waitFor, "status", func() error {
		return statusIs("fan", v1alpha1.NamespaceCounts{Targeted: 5, Synced: 5}, metav1.ConditionTrue)
	})
	cps := getCPS(t, "fan")
	if cps.Status.SourceHash == "" || cps.Status.LastSyncTime == nil || len(cps.Status.NotSynced) != 0 {
		t.Errorf("status = %+v, want a source hash, a last sync time and no notSynced", cps.Status)
	}
	if !slices.Contains(cps.Finalizers, v1alpha1.Finalizer) {
		t.Errorf("finalizers = %v, want %s", cps.Finalizers, v1alpha1.Finalizer)
	}

	// A namespace made later gets the copy, and its ServiceAccount when it appears.
	makeNamespace(t, "fan-late", lbl)
	eventually(t, waitFor, "copy in a new namespace", func() error { return copyIn("fan-late", "fan", data) })
	makeServiceAccount(t, "fan-late", "default")
	eventually(t, waitFor, "reference in a new namespace", func() error { return refs("fan-late", "default", "fan") })

	deleteCPS(t, "fan")
	if left := regcredObjects(t, "fan-"); len(left) > 0 {
		t.Errorf("after delete, left behind: %v", left)
	}
	for i := range 5 {
		if err := refs(fmt.Sprintf("fan-%d", i), "default"); err != nil {
			t.Error(err)
		}
	}
}

func TestSameNamedSecretIsNeverTouched(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, "same-src", "creds", data)
	lbl := map[string]string{"test": "same"}
	makeNamespace(t, "same-mine", lbl)
	makeServiceAccount(t, "same-mine", "default")
	makeNamespace(t, "same-theirs", lbl)
	makeServiceAccount(t, "same-theirs", "default", "other")
	theirs := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "same-theirs", Name: "same",
			Labels:      map[string]string{"owner": "team-a"},
			Annotations: map[string]string{"note": "hand made"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"token": []byte("theirs")},
	}
	before, err := kube.CoreV1().Secrets("same-theirs").Create(context.Background(), theirs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	makeCPS(t, "same", "same-src", "creds", selectTest("same"))

	eventually(t, waitFor, "conflict in status", func() error {
		return statusIs("same", v1alpha1.NamespaceCounts{Targeted: 2, Synced: 1, Conflict: 1}, metav1.ConditionFalse)
	})
	cps := getCPS(t, "same")
	if len(cps.Status.NotSynced) != 1 || cps.Status.NotSynced[0].Namespace != "same-theirs" || cps.Status.NotSynced[0].State != v1alpha1.NamespaceConflict {
		t.Errorf("notSynced = %+v, want same-theirs in Conflict", cps.Status.NotSynced)
	}
	if reason, _ := degradedReason(t, "same"); reason != v1alpha1.ReasonConflicts {
		t.Errorf("Degraded reason = %q, want %s", reason, v1alpha1.ReasonConflicts)
	}
	eventually(t, waitFor, "conflict Event", func() error {
		evs, err := kube.EventsV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "regarding.name=same"})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == v1alpha1.ReasonConflicts && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no Conflicts event among %d", len(evs.Items))
	})
	// Give the controller time to do anything it would wrongly do.
	time.Sleep(time.Second)
	after, err := kube.CoreV1().Secrets("same-theirs").Get(context.Background(), "same", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID || after.ResourceVersion != before.ResourceVersion || after.Type != before.Type ||
		!maps(after.Labels, before.Labels) || !maps(after.Annotations, before.Annotations) || string(after.Data["token"]) != "theirs" || len(after.OwnerReferences) != 0 {
		t.Errorf("the Secret regcred did not create changed:\nbefore %+v\nafter  %+v", before.ObjectMeta, after.ObjectMeta)
	}
	if err := refs("same-theirs", "default", "other"); err != nil {
		t.Errorf("ServiceAccount of the conflicting namespace: %v", err)
	}

	// Deleting the ClusterPullSecret leaves their Secret too.
	deleteCPS(t, "same")
	if _, err := kube.CoreV1().Secrets("same-theirs").Get(context.Background(), "same", metav1.GetOptions{}); err != nil {
		t.Errorf("their Secret after delete: %v", err)
	}
	if err := noSecret("same-mine", "same"); err != nil {
		t.Error(err)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestServiceAccountEntriesKeptInOrder(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, "order-src", "creds", data)
	makeNamespace(t, "order-a", map[string]string{"test": "order"})
	makeServiceAccount(t, "order-a", "default", "first", "second")
	makeServiceAccount(t, "order-a", "ci")
	// A person already referenced the name regcred will use, by hand.
	makeServiceAccount(t, "order-a", "hand", "zeroth", "order")
	makeCPS(t, "order", "order-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		selectTest("order")(c)
		c.Spec.ServiceAccounts = []string{"default", "hand"}
	})
	eventually(t, waitFor, "appended after the others", func() error { return refs("order-a", "default", "first", "second", "order") })
	if err := refs("order-a", "hand", "zeroth", "order"); err != nil {
		t.Error(err)
	}
	if got := recorded(t, "order-a", "hand"); len(got) != 0 {
		t.Errorf("record on a ServiceAccount whose entry a person added = %v, want none", got)
	}
	if err := refs("order-a", "ci"); err != nil {
		t.Error(err)
	}

	// Serve ci instead of default: default loses only regcred's entry.
	updateCPS(t, "order", func(c *v1alpha1.ClusterPullSecret) { c.Spec.ServiceAccounts = []string{"ci", "hand"} })
	eventually(t, waitFor, "default back as it was", func() error { return refs("order-a", "default", "first", "second") })
	eventually(t, waitFor, "ci referenced", func() error { return refs("order-a", "ci", "order") })

	// "*" serves every ServiceAccount, including one made later.
	updateCPS(t, "order", func(c *v1alpha1.ClusterPullSecret) { c.Spec.ServiceAccounts = []string{"*"} })
	eventually(t, waitFor, "default referenced again", func() error { return refs("order-a", "default", "first", "second", "order") })
	makeServiceAccount(t, "order-a", "later")
	eventually(t, waitFor, "a later ServiceAccount", func() error { return refs("order-a", "later", "order") })

	deleteCPS(t, "order")
	for sa, want := range map[string][]string{"default": {"first", "second"}, "ci": nil, "later": nil, "hand": {"zeroth", "order"}} {
		if err := refs("order-a", sa, want...); err != nil {
			t.Error(err)
		}
	}
}

func TestConcurrentServiceAccountWriters(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, "conc-src", "creds", data)
	makeNamespace(t, "conc-a", map[string]string{"test": "conc"})
	makeServiceAccount(t, "conc-a", "default")
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	const writers, each = 8, 10
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				err := retry.RetryOnConflict(wait.Backoff{Steps: 200, Duration: time.Millisecond, Factor: 1.2, Jitter: 1, Cap: 50 * time.Millisecond}, func() error {
					sa, err := kube.CoreV1().ServiceAccounts("conc-a").Get(ctx, "default", metav1.GetOptions{})
					if err != nil {
						return err
					}
					sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
					_, err = kube.CoreV1().ServiceAccounts("conc-a").Update(ctx, sa, metav1.UpdateOptions{})
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	close(start)
	makeCPS(t, "conc", "conc-src", "creds", selectTest("conc"))
	wg.Wait()
	eventually(t, waitFor, "regcred's entry", func() error {
		got := pullSecretsOf(t, "conc-a", "default")
		if !slices.Contains(got, "conc") {
			return fmt.Errorf("no regcred entry in %v", got)
		}
		return nil
	})
	got := pullSecretsOf(t, "conc-a", "default")
	for w := range writers {
		for i := range each {
			if name := fmt.Sprintf("w%d-%d", w, i); !slices.Contains(got, name) {
				t.Errorf("entry %s lost; list %v", name, got)
			}
		}
	}
	if n := len(got); n != writers*each+1 {
		t.Errorf("%d entries, want %d: %v", n, writers*each+1, got)
	}
	deleteCPS(t, "conc")
	if got := pullSecretsOf(t, "conc-a", "default"); len(got) != writers*each || slices.Contains(got, "conc") {
		t.Errorf("after delete: %d entries (regcred's there: %v), want the %d others", len(got), slices.Contains(got, "conc"), writers*each)
	}
}

func TestNamespaceLabelsFlipInAndOut(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, "flip-src", "creds", data)
	makeNamespace(t, "flip-a", nil)
	makeServiceAccount(t, "flip-a", "default", "mine")
	makeCPS(t, "flip", "flip-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		selectTest("flip")(c)
		c.Spec.ExcludeNamespaces = []string{"flip-skip-*"}
	})
	makeNamespace(t, "flip-skip-1", map[string]string{"test": "flip"})
	label := func(v string) {
		t.Helper()
		ns, err := kube.CoreV1().Namespaces().Get(context.Background(), "flip-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v == "" {
			delete(ns.Labels, "test")
		} else {
			ns.Labels["test"] = v
		}
		if _, err := kube.CoreV1().Namespaces().Update(context.Background(), ns, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		label("flip")
		eventually(t, waitFor, fmt.Sprintf("round %d in", round), func() error {
			if err := copyIn("flip-a", "flip", data); err != nil {
				return err
			}
			return refs("flip-a", "default", "mine", "flip")
		})
		label("")
		eventually(t, waitFor, fmt.Sprintf("round %d out", round), func() error {
			if err := noSecret("flip-a", "flip"); err != nil {
				return err
			}
			return refs("flip-a", "default", "mine")
		})
	}
	if err := noSecret("flip-skip-1", "flip"); err != nil {
		t.Errorf("excluded namespace: %v", err)
	}
	eventually(t, waitFor, "status", func() error {
		return statusIs("flip", v1alpha1.NamespaceCounts{}, metav1.ConditionTrue)
	})
	deleteCPS(t, "flip")
}

func TestSourceLifecycle(t *testing.T) {
	defer startController(t)()
	ctx := context.Background()
	v1 := pullConfig(t, "registry.example", "alice", "one")
	sourceSecret(t, "src-src", "creds", v1)
	makeNamespace(t, "src-a", map[string]string{"test": "src"})
	makeServiceAccount(t, "src-a", "default")
	makeCPS(t, "src", "src-src", "creds", selectTest("src"))
	eventually(t, waitFor, "first copy", func() error { return copyIn("src-a", "src", v1) })
	first, err := kube.CoreV1().Secrets("src-a").Get(ctx, "src", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A new password reaches the copy in place: same UID.
	v2 := pullConfig(t, "registry.example", "alice", "two")
	setSource := func(typ corev1.SecretType, key string, data []byte) {
		t.Helper()
		if err := kube.CoreV1().Secrets("src-src").Delete(ctx, "creds", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if data == nil {
			return
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "src-src", Name: "creds"}, Type: typ, Data: map[string][]byte{key: data}}
		if _, err := kube.CoreV1().Secrets("src-src").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	src, err := kube.CoreV1().Secrets("src-src").Get(ctx, "creds", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src.Data[corev1.DockerConfigJsonKey] = v2
	if _, err := kube.CoreV1().Secrets("src-src").Update(ctx, src, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitFor, "updated copy", func() error { return copyIn("src-a", "src", v2) })
	second, err := kube.CoreV1().Secrets("src-a").Get(ctx, "src", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.UID != first.UID {
		t.Errorf("copy UID changed from %s to %s: it was recreated, not updated in place", first.UID, second.UID)
	}

	cases := []struct {
		name   string
		typ    corev1.SecretType
		key    string
		data   []byte
		reason string
	}{
		{"deleted", "", "", nil, v1alpha1.ReasonSourceNotFound},
		{"opaque", corev1.SecretTypeOpaque, "password", []byte("x"), v1alpha1.ReasonSourceWrongType},
		{"auth not base64", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, []byte(`{"auths":{"r.example":{"auth":"%%%"}}}`), v1alpha1.ReasonSourceMalformed},
		{"auths of the wrong shape", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, []byte(`{"auths":[]}`), v1alpha1.ReasonSourceMalformed},
		{"no auths", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, []byte(`{}`), v1alpha1.ReasonSourceMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setSource(tc.typ, tc.key, tc.data)
			eventually(t, waitFor, "Degraded "+tc.reason, func() error {
				if r, msg := degradedReason(t, "src"); r != tc.reason {
					return fmt.Errorf("Degraded reason %q (%s), want %s", r, msg, tc.reason)
				}
				return nil
			})
			// The copy stays as it was.
			if err := copyIn("src-a", "src", v2); err != nil {
				t.Error(err)
			}
			if err := refs("src-a", "default", "src"); err != nil {
				t.Error(err)
			}
		})
	}

	// A .dockercfg source comes back, and the copy becomes its dockerconfigjson form.
	setSource(corev1.SecretTypeDockercfg, corev1.DockerConfigKey, []byte(`{"registry.example":{"username":"alice","password":"three"}}`))
	want := []byte(`{"auths":{"registry.example":{"username":"alice","password":"three"}}}`)
	eventually(t, waitFor, "recovered copy", func() error {
		if r, msg := degradedReason(t, "src"); r != "" {
			return fmt.Errorf("still Degraded: %s: %s", r, msg)
		}
		return copyIn("src-a", "src", want)
	})
	eventually(t, waitFor, "recovered status", func() error {
		return statusIs("src", v1alpha1.NamespaceCounts{Targeted: 1, Synced: 1}, metav1.ConditionTrue)
	})
	third, err := kube.CoreV1().Secrets("src-a").Get(ctx, "src", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if third.UID != first.UID {
		t.Errorf("copy UID changed across the source's outage")
	}
	deleteCPS(t, "src")
}

func TestOrphanPolicyAndSecretNameChange(t *testing.T) {
	defer startController(t)()
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, "orph-src", "creds", data)
	makeNamespace(t, "orph-a", map[string]string{"test": "orph"})
	makeServiceAccount(t, "orph-a", "default", "keep")
	makeCPS(t, "orph", "orph-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		selectTest("orph")(c)
		c.Spec.SecretName = "first-name"
		c.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
	})
	eventually(t, waitFor, "first name", func() error { return refs("orph-a", "default", "keep", "first-name") })
	updateCPS(t, "orph", func(c *v1alpha1.ClusterPullSecret) { c.Spec.SecretName = "second-name" })
	eventually(t, waitFor, "second name", func() error {
		if err := noSecret("orph-a", "first-name"); err != nil {
			return err
		}
		if err := copyIn("orph-a", "second-name", data); err != nil {
			return err
		}
		return refs("orph-a", "default", "keep", "second-name")
	})
	deleteCPS(t, "orph")
	// Orphan: the copy and the reference stay, no longer regcred's.
	if err := copyIn("orph-a", "second-name", data); err != nil {
		t.Error(err)
	}
	if err := refs("orph-a", "default", "keep", "second-name"); err != nil {
		t.Error(err)
	}
	if left := regcredObjects(t, "orph-"); len(left) > 0 {
		t.Errorf("still marked as regcred's: %v", left)
	}
	// Garbage collection has nothing to take: no owner reference is left.
	s, err := kube.CoreV1().Secrets("orph-a").Get(context.Background(), "second-name", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.OwnerReferences) != 0 {
		t.Errorf("owner references left: %v", s.OwnerReferences)
	}
}

func TestTerminatingAndSourceNamespacesNeverTargeted(t *testing.T) {
	defer startController(t)()
	ctx := context.Background()
	data := pullConfig(t, "registry.example", "alice", "pw")
	sourceSecret(t, "term-src", "creds", data)
	if _, err := kube.CoreV1().Namespaces().Patch(ctx, "term-src", types.MergePatchType, []byte(`{"metadata":{"labels":{"test":"term"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	makeNamespace(t, "term-a", map[string]string{"test": "term"})
	makeServiceAccount(t, "term-a", "default")
	// envtest has no namespace controller: a deleted namespace stays Terminating.
	if err := kube.CoreV1().Namespaces().Delete(ctx, "term-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	makeNamespace(t, "term-b", map[string]string{"test": "term"})
	makeCPS(t, "term", "term-src", "creds", selectTest("term"))
	eventually(t, waitFor, "term-b synced", func() error { return copyIn("term-b", "term", data) })
	eventually(t, waitFor, "status", func() error {
		return statusIs("term", v1alpha1.NamespaceCounts{Targeted: 1, Synced: 1}, metav1.ConditionTrue)
	})
	for _, ns := range []string{"term-a", "term-src"} {
		if err := noSecret(ns, "term"); err != nil {
			t.Error(err)
		}
	}
	deleteCPS(t, "term")
}
