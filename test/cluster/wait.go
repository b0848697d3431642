package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// waitHTTP waits until url answers 200, or the daemon p exits.
func waitHTTP(ctx context.Context, p *proc, url string, caPEM []byte, token string, timeout time.Duration) error {
	tr := &http.Transport{Proxy: nil}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	return poll(ctx, p, timeout, url, func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// waitSocket waits until a unix socket accepts connections, or the daemon p exits.
func waitSocket(ctx context.Context, p *proc, path string, timeout time.Duration) error {
	return poll(ctx, p, timeout, path, func() bool {
		conn, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// poll checks ready every 200ms: for daemons that are starting there is nothing to watch.
func poll(ctx context.Context, p *proc, timeout time.Duration, what string, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return p.failure()
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to serve %s: %w; last lines of %s:\n%s", p.name, what, ctx.Err(), p.log, tail(p.log, 15))
		case <-tick.C:
		}
	}
}

// waitNodeReady watches the node until it reports Ready, or the kubelet exits.
func (c *Cluster) waitNodeReady(ctx context.Context, name string, kubelet *proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		select {
		case <-kubelet.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := watchtools.UntilWithSync(ctx, named(c.Client, "nodes", "", name), &corev1.Node{}, nil, func(e watch.Event) (bool, error) {
		n, ok := e.Object.(*corev1.Node)
		if !ok {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if kubelet.exited() {
		return kubelet.failure()
	}
	if err != nil {
		return fmt.Errorf("wait for node %s to be Ready: %w; last lines of the kubelet log:\n%s", name, err, tail(kubelet.log, 20))
	}
	return nil
}

// WaitForServiceAccount waits until the controller manager has made a ServiceAccount
// (the default one of a new namespace, typically): pods cannot be created before. It
// waits up to 2 minutes, as for a node: once, right after a release build, the
// demo's default ServiceAccount had not come after 1 minute (why was not seen; a
// failure now shows the controller manager's log).
func WaitForServiceAccount(ctx context.Context, cs kubernetes.Interface, namespace, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err := watchtools.UntilWithSync(ctx, named(cs, "serviceaccounts", namespace, name), &corev1.ServiceAccount{}, nil, func(e watch.Event) (bool, error) {
		return e.Type == watch.Added || e.Type == watch.Modified, nil
	})
	if err != nil {
		return fmt.Errorf("wait for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return nil
}

// named lists and watches one core object by name.
func named(cs kubernetes.Interface, resource, namespace, name string) cache.ListerWatcher {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return cache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), resource, namespace, func(o *metav1.ListOptions) {
		o.FieldSelector = sel
	})
}

// PodCondition reports whether a pod is in the state waited for; an error ends the wait.
type PodCondition func(*corev1.Pod) (bool, error)

// PodRunning is met when every container of the pod runs.
func PodRunning(p *corev1.Pod) (bool, error) {
	if p.Status.Phase != corev1.PodRunning {
		return false, nil
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false, nil
		}
	}
	return true, nil
}

// PodWaiting is met when some container waits with one of the given reasons
// (ImagePullBackOff, ErrImagePull, ErrImageNeverPull, ...).
func PodWaiting(reasons ...string) PodCondition {
	return func(p *corev1.Pod) (bool, error) {
		for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range list {
				if cs.State.Waiting != nil && slices.Contains(reasons, cs.State.Waiting.Reason) {
					return true, nil
				}
			}
		}
		return false, nil
	}
}

// PodStuck is met when some container waits for any reason but its creation: the
// kubelet names some failures with their raw error text as the reason.
func PodStuck(p *corev1.Pod) (bool, error) {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
				return true, nil
			}
		}
	}
	return false, nil
}

// WaitForPod watches a pod until cond is met, for at most three minutes.
func WaitForPod(ctx context.Context, cs kubernetes.Interface, namespace, name string, cond PodCondition) error {
	_, err := waitPods(ctx, named(cs, "pods", namespace, name), namespace+"/"+name, cond)
	return err
}

// WaitForPodSelected watches the pods a label selector picks until one meets cond, for
// at most three minutes, and returns that pod.
func WaitForPodSelected(ctx context.Context, cs kubernetes.Interface, namespace, selector string, cond PodCondition) (*corev1.Pod, error) {
	lw := cache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "pods", namespace, func(o *metav1.ListOptions) {
		o.LabelSelector = selector
	})
	return waitPods(ctx, lw, namespace+" pods "+selector, cond)
}

func waitPods(ctx context.Context, lw cache.ListerWatcher, what string, cond PodCondition) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last, met *corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(e watch.Event) (bool, error) {
		p, ok := e.Object.(*corev1.Pod)
		if !ok || e.Type == watch.Deleted {
			return false, nil
		}
		last = p
		ok, err := cond(p)
		if ok {
			met = p
		}
		return ok, err
	})
	if err != nil {
		return nil, fmt.Errorf("wait for %s: %w (last status seen: %s)", what, err, describeStatus(last))
	}
	return met, nil
}

// WaitForEvent watches the events of one object until one satisfies match, for at
// most three minutes, and returns it.
func WaitForEvent(ctx context.Context, cs kubernetes.Interface, namespace, involvedName string, match func(*corev1.Event) bool) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	sel := fields.OneTermEqualSelector("involvedObject.name", involvedName).String()
	lw := cache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "events", namespace, func(o *metav1.ListOptions) {
		o.FieldSelector = sel
	})
	var found *corev1.Event
	var seen []string
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Event{}, nil, func(e watch.Event) (bool, error) {
		ev, ok := e.Object.(*corev1.Event)
		if !ok {
			return false, nil
		}
		seen = append(seen, ev.Reason+": "+ev.Message)
		if match(ev) {
			found = ev
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for an event of %s/%s: %w (events seen: %q)", namespace, involvedName, err, seen)
	}
	return found, nil
}

func describeStatus(p *corev1.Pod) string {
	if p == nil {
		return "never seen"
	}
	s := string(p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			s += fmt.Sprintf("; %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message)
		case c.State.Running != nil:
			s += fmt.Sprintf("; %s running", c.Name)
		case c.State.Terminated != nil:
			s += fmt.Sprintf("; %s terminated: %s", c.Name, c.State.Terminated.Reason)
		}
	}
	return s
}
