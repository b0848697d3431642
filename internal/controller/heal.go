package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/regcred/regcred/api/v1alpha1"
)

// Healing defaults.
const (
	// defaultHealWindow: the pods of one owner are evicted at most once in it.
	defaultHealWindow = 10 * time.Minute
	// defaultHealRetry: an eviction the API server refused is tried again after it,
	// then after twice as long each time it is refused again, up to the window.
	defaultHealRetry = 30 * time.Second
	// healMemory is how long an eviction is remembered, to tell a replacement that
	// did not get the copy either from a pod that was there before.
	healMemory = time.Hour
	// maxStuckPods caps status.stuckPods.pods.
	maxStuckPods = 20
)

// healer evicts pods stuck pulling for want of credentials that a copy would give
// them, when their controller recreates them with the copy, and reports the others.
// It reads pending pods from a cache trimmed to what it needs (trimPod).
type healer struct {
	cached   client.Client
	live     client.Reader // the pods' own pull Secrets, which the caches do not hold
	pods     corev1client.PodsGetter
	recorder recorder.EventRecorder
	metrics  *Metrics
	changed  func(cps string) // status.stuckPods of the ClusterPullSecret changed
	window   time.Duration
	retry    time.Duration

	mu sync.Mutex
	// rounds are the last evictions per owner (controller UID).
	rounds map[types.UID]round
	// stuck are the reported pods (namespace/name) per ClusterPullSecret.
	stuck map[string]map[string]bool
	// told is the last Event sent per pod (namespace/name): its UID and note.
	told map[string]string
	// refusals are the rounds in a row whose evictions the API server refused, per
	// owner.
	refusals map[types.UID]refusal
}

// refusal counts the refused rounds of one owner since its last eviction.
type refusal struct {
	n    int
	last time.Time
}

// retryAfter is when a round refused for the nth time in a row is tried again: retry,
// doubled at each refusal, at most window.
func retryAfter(retry, window time.Duration, n int) time.Duration {
	d := retry
	for i := 1; i < n && d < window; i++ {
		d *= 2
	}
	return min(d, window)
}

// round is one eviction of an owner's stuck pods.
type round struct {
	at time.Time
	// present are the owner's pods in the cache at that time: any other pod of the
	// owner is a replacement.
	present map[types.UID]bool
	// fruitless is set once a replacement was stuck without the copy too: the
	// owner's pods are then reported, not evicted.
	fruitless bool
}

func newHealer(cached client.Client, live client.Reader, pods corev1client.PodsGetter, rec recorder.EventRecorder, m *Metrics, changed func(string), window, retry time.Duration) *healer {
	if window <= 0 {
		window = defaultHealWindow
	}
	if retry <= 0 {
		retry = defaultHealRetry
	}
	return &healer{cached: cached, live: live, pods: pods, recorder: rec, metrics: m, changed: changed, window: window, retry: retry,
		rounds: map[types.UID]round{}, stuck: map[string]map[string]bool{}, told: map[string]string{}, refusals: map[types.UID]refusal{}}
}

func (h *healer) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	key := req.String()
	var p corev1.Pod
	if err := h.cached.Get(ctx, req.NamespacedName, &p); err != nil {
		if apierrors.IsNotFound(err) { // gone, or no longer Pending
			h.forgetPod(key)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	images := stuckPulling(&p)
	if len(images) == 0 {
		h.forgetPod(key)
		return reconcile.Result{}, nil
	}
	v, err := h.assess(ctx, &p, images)
	if err != nil {
		return reconcile.Result{}, err
	}
	if v.action == evict {
		return h.evictRound(ctx, &p, v)
	}
	h.settle(ctx, &p, v)
	return reconcile.Result{}, nil
}

// settle records a verdict other than evict: report it, or forget an earlier report.
func (h *healer) settle(ctx context.Context, p *corev1.Pod, v verdict) {
	key := p.Namespace + "/" + p.Name
	if v.action != report {
		h.unreport(key)
		if v.action == wait {
			log.FromContext(ctx).V(1).Info("stuck pod references the copy: the kubelet uses it at its next retry", "copy", v.copy)
		}
		return
	}
	h.mu.Lock()
	set := h.stuck[v.cps.Name]
	if set == nil {
		set = map[string]bool{}
		h.stuck[v.cps.Name] = set
	}
	added := !set[key]
	set[key] = true
	h.mu.Unlock()
	if added {
		h.changed(v.cps.Name)
	}
	h.tell(p, v.cps, corev1.EventTypeWarning, v1alpha1.ReasonStuckPod, "Report",
		fmt.Sprintf("not evicted: it fails to pull for want of credentials (%s), and ClusterPullSecret %s's copy %s would serve it, but %s", v.cause, v.cps.Name, v.copy, v.why))
}

// evictRound evicts the stuck pods of the pod's owner, once per window. A pod of the
// owner made after the last round that still lacks the copy shows that a new pod
// does not get it: from then on (for healMemory) the owner's pods are reported, not
// evicted.
func (h *healer) evictRound(ctx context.Context, p *corev1.Pod, v verdict) (reconcile.Result, error) {
	owner := v.owner.UID
	now := time.Now()
	h.unreport(p.Namespace + "/" + p.Name) // evicted or retried, not left to status
	var mine corev1.PodList
	if err := h.cached.List(ctx, &mine, client.InNamespace(p.Namespace)); err != nil {
		return reconcile.Result{}, err
	}
	var siblings []*corev1.Pod
	for i := range mine.Items {
		if ref := metav1.GetControllerOf(&mine.Items[i]); ref != nil && ref.UID == owner {
			siblings = append(siblings, &mine.Items[i])
		}
	}
	h.mu.Lock()
	for uid, r := range h.rounds {
		// A fruitless round is kept: evicting that owner's pods again would not help
		// until its template changes, which makes a new ReplicaSet, a new owner.
		if now.Sub(r.at) > healMemory && !r.fruitless {
			delete(h.rounds, uid)
		}
	}
	for uid, r := range h.refusals {
		if now.Sub(r.last) > healMemory {
			delete(h.refusals, uid)
		}
	}
	last, seen := h.rounds[owner]
	replacement := func(p *corev1.Pod) bool {
		return seen && !last.present[p.UID] && !p.CreationTimestamp.Time.Before(last.at.Truncate(time.Second))
	}
	switch {
	case seen && (last.fruitless || replacement(p)):
		last.fruitless = true
		h.rounds[owner] = last
		h.mu.Unlock()
		v.action = report
		v.why = fmt.Sprintf("regcred evicted the stuck pods of %s %s at %s, and a pod made since did not get %s either: the pod template sets imagePullSecrets of its own, so admission adds nothing from the ServiceAccount; add %s to that list",
			v.owner.Kind, v.owner.Name, last.at.UTC().Format(time.RFC3339), v.copy, v.copy)
		h.settle(ctx, p, v)
		return reconcile.Result{}, nil
	case seen && now.Sub(last.at) < h.window:
		h.mu.Unlock()
		return reconcile.Result{RequeueAfter: h.window - now.Sub(last.at)}, nil
	}
	if r, ok := h.refusals[owner]; ok {
		// Refused before: not again until the back-off is over, whatever pod
		// update brings this owner back sooner.
		if wait := r.last.Add(retryAfter(h.retry, h.window, r.n)).Sub(now); wait > 0 {
			h.mu.Unlock()
			return reconcile.Result{RequeueAfter: wait}, nil
		}
	}
	present := map[types.UID]bool{}
	for _, s := range siblings {
		present[s.UID] = true
	}
	h.rounds[owner] = round{at: now, present: present}
	h.mu.Unlock()

	evicted, refused := 0, 0
	for _, s := range siblings {
		sv := v
		if s.UID != p.UID {
			if replacement(s) {
				continue // its own reconcile finds that evicting does not help
			}
			images := stuckPulling(s)
			if len(images) == 0 {
				continue
			}
			var err error
			if sv, err = h.assess(ctx, s, images); err != nil || sv.action != evict {
				continue // its own reconcile says what it is
			}
		}
		ok, err := h.evict(ctx, s, sv)
		switch {
		case err != nil:
			refused++
			h.metrics.refused.WithLabelValues(sv.cps.Name).Inc()
			log.FromContext(ctx).Info("eviction refused", "pod", s.Namespace+"/"+s.Name, "error", err.Error())
		case ok:
			evicted++
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if evicted == 0 && refused > 0 {
		delete(h.rounds, owner) // nothing happened: the window has not begun
		r := h.refusals[owner]
		r.n++
		r.last = now
		h.refusals[owner] = r
		return reconcile.Result{RequeueAfter: retryAfter(h.retry, h.window, r.n)}, nil
	}
	if evicted > 0 {
		delete(h.refusals, owner)
	}
	return reconcile.Result{}, nil
}

// evict evicts one pod through the Eviction API, on the condition that it is still
// the pod assessed (its UID), and reports whether it went.
func (h *healer) evict(ctx context.Context, p *corev1.Pod, v verdict) (bool, error) {
	uid := p.UID
	ev := &policyv1.Eviction{
		ObjectMeta:    metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
		DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}},
	}
	err := h.pods.Pods(p.Namespace).EvictV1(ctx, ev)
	switch {
	case err == nil:
		h.metrics.writes.WithLabelValues("Pod", "evict").Inc()
		h.unreport(p.Namespace + "/" + p.Name)
		h.tell(p, v.cps, corev1.EventTypeNormal, v1alpha1.ReasonEvictedStuckPod, "Evict",
			fmt.Sprintf("evicted: it fails to pull for want of credentials (%s), and ClusterPullSecret %s's copy %s would serve it; %s %s makes a new pod, which gets the copy",
				v.cause, v.cps.Name, v.copy, v.owner.Kind, v.owner.Name))
		return true, nil
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return false, nil // gone, or another pod of that name now
	}
	h.tell(p, v.cps, corev1.EventTypeWarning, v1alpha1.ReasonStuckPod, "Evict",
		fmt.Sprintf("could not evict it (it fails to pull for want of credentials, and ClusterPullSecret %s's copy %s would serve it): %v; regcred tries again after %s, then less often, at least every %s", v.cps.Name, v.copy, err, h.retry, h.window))
	return false, fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
}

// tell sends an Event about the pod, related to the ClusterPullSecret, unless the
// last one about this pod said the same.
func (h *healer) tell(p *corev1.Pod, cps *v1alpha1.ClusterPullSecret, typ, reason, action, note string) {
	key, said := p.Namespace+"/"+p.Name, string(p.UID)+"|"+reason+"|"+note
	h.mu.Lock()
	same := h.told[key] == said
	h.told[key] = said
	h.mu.Unlock()
	if same || h.recorder == nil {
		return
	}
	h.recorder.Eventf(p, cps, typ, reason, action, "%s", note)
}

// forgetPod forgets a pod (namespace/name) that is gone or no longer stuck.
func (h *healer) forgetPod(key string) {
	h.mu.Lock()
	delete(h.told, key)
	h.mu.Unlock()
	h.unreport(key)
}

// unreport takes a pod (namespace/name) out of status.stuckPods.
func (h *healer) unreport(key string) {
	var changed []string
	h.mu.Lock()
	for cps, set := range h.stuck {
		if set[key] {
			delete(set, key)
			changed = append(changed, cps)
		}
	}
	h.mu.Unlock()
	for _, cps := range changed {
		h.changed(cps)
	}
}

// stuckPods is status.stuckPods of a ClusterPullSecret; nil when there are none.
func (h *healer) stuckPods(cps string) *v1alpha1.StuckPods {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.stuck[cps]
	if len(set) == 0 {
		return nil
	}
	out := &v1alpha1.StuckPods{Count: int32(len(set))}
	for k := range set {
		out.Pods = append(out.Pods, k)
	}
	slices.SortFunc(out.Pods, strings.Compare)
	if len(out.Pods) > maxStuckPods {
		out.Pods = out.Pods[:maxStuckPods]
	}
	return out
}

// forget drops what is reported for a deleted ClusterPullSecret.
func (h *healer) forget(cps string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.stuck, cps)
}
