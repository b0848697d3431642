package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/controller"
)

// The kubelet's words for a pull, as the waiting message of a container in back-off.
const (
	healImage   = "registry.example:5000/team/app:1"
	words401    = `Back-off pulling image "registry.example:5000/team/app:1": ErrImagePull: failed to pull and unpack image "registry.example:5000/team/app:1": failed to resolve reference "registry.example:5000/team/app:1": pulling from host registry.example:5000 failed with status code [manifests 1]: 401 Unauthorized`
	wordsNoTag  = `Back-off pulling image "registry.example:5000/team/app:1": ErrImagePull: failed to pull and unpack image "registry.example:5000/team/app:1": failed to resolve reference "registry.example:5000/team/app:1": registry.example:5000/team/app:1: not found`
	wordsX509   = `Back-off pulling image "registry.example:5000/team/app:1": ErrImagePull: failed to pull and unpack image "registry.example:5000/team/app:1": failed to resolve reference "registry.example:5000/team/app:1": failed to do request: Head "https://registry.example:5000/v2/team/app/manifests/1": tls: failed to verify certificate: x509: certificate signed by unknown authority`
	healWindow  = 4 * time.Second
	healRetry   = 500 * time.Millisecond
	healQuietly = 2 * time.Second // how long a pod left alone is watched
)

// replicaSet creates a ReplicaSet (envtest runs no controller for it) and returns
// the controller reference its pods carry.
func replicaSet(t testing.TB, ns, name string) *metav1.OwnerReference {
	t.Helper()
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: healImage}}},
			},
		},
	}
	got, err := kube.AppsV1().ReplicaSets(ns).Create(context.Background(), rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return metav1.NewControllerRef(got, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
}

// stuckPod creates a pod of the owner (nil: a bare pod) and gives it the status the
// kubelet would: Pending, its container waiting with reason and words. Without a
// kubelet, only this test writes the status.
func stuckPod(t testing.TB, ns, name string, owner *metav1.OwnerReference, reason, words string, pullSecrets ...string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"heal": "test"}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "app", Image: healImage}},
		},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	for _, s := range pullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setWaiting(t, created, reason, words)
	return created
}

// setWaiting writes the pod's status: Pending, the container waiting.
func setWaiting(t testing.TB, pod *corev1.Pod, reason, words string) {
	t.Helper()
	ctx := context.Background()
	cur, err := kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Phase = corev1.PodPending
	cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: healImage,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: words}}}}
	if _, err := kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// podEvents returns the reasons of the Events about the pod (by UID), in order.
func podEvents(t testing.TB, pod *corev1.Pod) []string {
	t.Helper()
	list, err := kube.CoreV1().Events(pod.Namespace).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(pod.UID)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

// gone reports whether the pod (that UID) no longer exists.
func gone(pod *corev1.Pod) error {
	got, err := kube.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && got.UID != pod.UID) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("pod %s/%s still there", pod.Namespace, pod.Name)
}

// untouched checks, for a while, that the pod stays and no Event is about it.
func untouched(t testing.TB, pods ...*corev1.Pod) {
	t.Helper()
	time.Sleep(healQuietly)
	for _, p := range pods {
		if err := gone(p); err == nil {
			t.Errorf("pod %s/%s was deleted", p.Namespace, p.Name)
		}
		if ev := podEvents(t, p); len(ev) > 0 {
			t.Errorf("pod %s/%s: Events %q, want none", p.Namespace, p.Name, ev)
		}
	}
}

// stuckListed checks whether team-heal's status.stuckPods lists the pod, and that
// its count agrees with its list.
func stuckListed(pod string, want bool) error {
	var cps v1alpha1.ClusterPullSecret
	if err := cl.Get(context.Background(), types.NamespacedName{Name: "team-heal"}, &cps); err != nil {
		return err
	}
	st := cps.Status.StuckPods
	if st != nil && int(st.Count) != len(st.Pods) {
		return fmt.Errorf("status.stuckPods %+v: count and list disagree", st)
	}
	if got := st != nil && slices.Contains(st.Pods, pod); got != want {
		return fmt.Errorf("status.stuckPods %+v", st)
	}
	return nil
}

// evictedAt is the time of the eviction Event about the pod.
func evictedAt(t testing.TB, pod *corev1.Pod) time.Time {
	t.Helper()
	var at time.Time
	eventually(t, waitFor, "eviction Event about "+pod.Name, func() error {
		list, err := kube.CoreV1().Events(pod.Namespace).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(pod.UID)})
		if err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.ReasonEvictedStuckPod {
				at = e.EventTime.Time
				return nil
			}
		}
		return fmt.Errorf("no eviction Event among %d", len(list.Items))
	})
	return at
}

func eventWith(t testing.TB, pod *corev1.Pod, reason, text string) {
	t.Helper()
	eventually(t, waitFor, fmt.Sprintf("Event %s about %s/%s", reason, pod.Namespace, pod.Name), func() error {
		ev := podEvents(t, pod)
		if !slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, reason+": ") && strings.Contains(e, text) }) {
			return fmt.Errorf("Events %q", ev)
		}
		return nil
	})
}

// refuseEvictions makes the API server refuse every eviction in namespaces carrying
// the label, with a ValidatingAdmissionPolicy, and returns what takes it away.
func refuseEvictions(t testing.TB, ns string) func() {
	t.Helper()
	ctx := context.Background()
	vap := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "heal-refuse-evictions"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/eviction"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "evictions are paused here"}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "heal-refuse-evictions"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        vap.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources:    &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		},
	}
	if _, err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, vap, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	probe := stuckPod(t, ns, "eviction-probe", nil, "ContainerCreating", "")
	dry := func() error {
		return kube.CoreV1().Pods(ns).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: probe.Name},
			DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}})
	}
	eventually(t, waitFor, "evictions refused in "+ns, func() error {
		if err := dry(); err == nil {
			return fmt.Errorf("dry-run eviction allowed")
		}
		return nil
	})
	return func() {
		if err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, vap.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHealStuckPods: pods stuck pulling, made before their namespaces had the copy,
// under a ClusterPullSecret that patches the ServiceAccounts and adds nothing at
// admission. Only pods that fail for want of credentials, that the copy would
// serve, that lack it and that a controller recreates are evicted, once per owner
// per window; pods nothing recreates are reported.
func TestHealStuckPods(t *testing.T) {
	data := pullConfig(t, "registry.example:5000", "alice", "s3cret")
	sourceSecret(t, "heal-src", "creds", data)
	on := map[string]string{"test": "heal"}
	off := map[string]string{"test": "heal-off"}
	for _, ns := range []string{"heal-a", "heal-pdb", "heal-refused", "heal-rate"} {
		makeNamespace(t, ns, on)
		makeServiceAccount(t, ns, "default")
	}
	makeNamespace(t, "heal-off", off)
	makeServiceAccount(t, "heal-off", "default")

	// What is there before the ClusterPullSecret.
	rsA, rsMissing, rsTLS := replicaSet(t, "heal-a", "web"), replicaSet(t, "heal-a", "missing"), replicaSet(t, "heal-a", "tls")
	evicted := stuckPod(t, "heal-a", "web-1", rsA, "ImagePullBackOff", words401)
	referencing := stuckPod(t, "heal-a", "web-ref", replicaSet(t, "heal-a", "ref"), "ImagePullBackOff", words401, "team-heal")
	bare := stuckPod(t, "heal-a", "bare", nil, "ErrImagePull", words401)
	noTag := stuckPod(t, "heal-a", "missing-1", rsMissing, "ImagePullBackOff", wordsNoTag)
	badTLS := stuckPod(t, "heal-a", "tls-1", rsTLS, "ImagePullBackOff", wordsX509)
	notHealing := stuckPod(t, "heal-off", "web-1", replicaSet(t, "heal-off", "web"), "ImagePullBackOff", words401)

	// A PodDisruptionBudget that allows no disruption: the API server lets Pending
	// pods be evicted all the same (they serve nothing).
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heal-pdb", Name: "none"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(0)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"heal": "test"}}},
	}
	if _, err := kube.PolicyV1().PodDisruptionBudgets("heal-pdb").Create(context.Background(), pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	underPDB := stuckPod(t, "heal-pdb", "web-1", replicaSet(t, "heal-pdb", "web"), "ImagePullBackOff", words401)

	allowEvictions := refuseEvictions(t, "heal-refused")
	refused := stuckPod(t, "heal-refused", "web-1", replicaSet(t, "heal-refused", "web"), "ImagePullBackOff", words401)

	rsRate, rsOwn := replicaSet(t, "heal-rate", "web"), replicaSet(t, "heal-rate", "own")
	first := stuckPod(t, "heal-rate", "web-1", rsRate, "ImagePullBackOff", words401)
	later := stuckPod(t, "heal-rate", "web-2", rsRate, "ContainerCreating", "") // stuck only after the first round
	ownFirst := stuckPod(t, "heal-rate", "own-1", rsOwn, "ImagePullBackOff", words401)

	defer startControllerWith(t, controller.Options{HealWindow: healWindow, HealRetry: healRetry})()
	makeCPS(t, "team-heal", "heal-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		c.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: on}
		c.Spec.InjectAtAdmission = ptr.To(false)
	})
	makeCPS(t, "team-noheal", "heal-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		c.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: off}
		c.Spec.InjectAtAdmission = ptr.To(false)
		c.Spec.HealStuckPods = ptr.To(false)
	})
	defer func() {
		for _, name := range []string{"team-heal", "team-noheal"} {
			if err := cl.Delete(context.Background(), getCPS(t, name)); err != nil {
				t.Error(err)
			}
		}
	}()

	t.Run("once per owner per window", func(t *testing.T) {
		eventually(t, waitFor, "heal-rate/web-1 evicted", func() error { return gone(first) })
		roundAt := evictedAt(t, first)
		// A pod of the owner that was there at the round and is stuck only now
		// waits for the window to pass.
		setWaiting(t, later, "ImagePullBackOff", words401)
		eventually(t, waitFor, "heal-rate/web-2 evicted after the window", func() error { return gone(later) })
		// The round's time is taken just before the evictions, the Event's just after.
		if d := evictedAt(t, later).Sub(roundAt); d < healWindow-250*time.Millisecond {
			t.Errorf("web-2 evicted %s after web-1, within the window of %s", d, healWindow)
		}
	})
	t.Run("a replacement without the copy: evicting does not help", func(t *testing.T) {
		eventually(t, waitFor, "heal-rate/own-1 evicted", func() error { return gone(ownFirst) })
		// The replacement's template sets imagePullSecrets of its own, so it did
		// not get the copy from the ServiceAccount.
		replacement := stuckPod(t, "heal-rate", "own-2", rsOwn, "ImagePullBackOff", words401, "own")
		eventWith(t, replacement, v1alpha1.ReasonStuckPod, "a pod made since did not get team-heal either")
		eventually(t, waitFor, "heal-rate/own-2 in status.stuckPods", func() error { return stuckListed("heal-rate/own-2", true) })
		time.Sleep(healWindow + time.Second)
		if err := gone(replacement); err == nil {
			t.Error("the replacement that lacks the copy was evicted")
		}
		if ev := podEvents(t, replacement); slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, v1alpha1.ReasonEvictedStuckPod) }) {
			t.Errorf("Events %q", ev)
		}
	})
	t.Run("evicted once", func(t *testing.T) {
		eventually(t, waitFor, "web-1 evicted", func() error { return gone(evicted) })
		eventWith(t, evicted, v1alpha1.ReasonEvictedStuckPod, "ReplicaSet web makes a new pod, which gets the copy")
		time.Sleep(healQuietly)
		if ev := podEvents(t, evicted); len(ev) != 1 {
			t.Errorf("Events %q, want the one eviction", ev)
		}
	})
	t.Run("PodDisruptionBudget: a Pending pod is evicted all the same", func(t *testing.T) {
		eventually(t, waitFor, "heal-pdb/web-1 evicted", func() error { return gone(underPDB) })
	})
	t.Run("references the copy: the kubelet's next retry", func(t *testing.T) { untouched(t, referencing) })
	t.Run("tag missing", func(t *testing.T) { untouched(t, noTag) })
	t.Run("certificate not trusted", func(t *testing.T) { untouched(t, badTLS) })
	t.Run("healStuckPods false", func(t *testing.T) {
		eventually(t, waitFor, "copy in heal-off", func() error { return copyIn("heal-off", "team-noheal", data) })
		untouched(t, notHealing)
	})
	t.Run("bare pod reported, never deleted", func(t *testing.T) {
		eventWith(t, bare, v1alpha1.ReasonStuckPod, "no controller recreates it")
		eventually(t, waitFor, "status.stuckPods", func() error {
			return stuckListed("heal-a/bare", true)
		})
		if err := gone(bare); err == nil {
			t.Fatal("bare pod deleted")
		}
		// Once it is gone, status forgets it.
		if err := kube.CoreV1().Pods("heal-a").Delete(context.Background(), "bare", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, waitFor, "heal-a/bare out of status.stuckPods", func() error { return stuckListed("heal-a/bare", false) })
	})
	t.Run("eviction refused, then retried", func(t *testing.T) {
		eventWith(t, refused, v1alpha1.ReasonStuckPod, "could not evict it")
		if err := gone(refused); err == nil {
			t.Fatal("evicted although the API server refuses evictions there")
		}
		// The kubelet rewrites a stuck pod's status at every pull retry: those updates
		// do not cut the back-off short. 20 updates in 2 s; retried every 0.5 s at
		// the most often (healRetry), so at most 5 attempts.
		before := refusedMetric(t, "team-heal")
		start := time.Now()
		for i := range 20 {
			reason := "ImagePullBackOff"
			if i%2 == 0 {
				reason = "ErrImagePull"
			}
			setWaiting(t, refused, reason, words401)
			time.Sleep(100 * time.Millisecond)
		}
		if n, most := refusedMetric(t, "team-heal")-before, time.Since(start)/healRetry+1; n > float64(most) {
			t.Errorf("%v refused evictions in %s of pod updates, want at most %d", n, time.Since(start).Round(time.Millisecond), most)
		}
		allowEvictions()
		eventually(t, waitFor, "heal-refused/web-1 evicted once allowed", func() error { return gone(refused) })
	})
}

// refusedMetric reads regcred_evictions_refused_total of the ClusterPullSecret (0
// before the first).
func refusedMetric(t testing.TB, cps string) float64 {
	t.Helper()
	v, _ := metricOf(t, "regcred_evictions_refused_total", cps)
	return v
}
