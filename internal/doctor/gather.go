package doctor

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/pager"

	"github.com/regcred/regcred/api/v1alpha1"
)

// Scope says which pods to look at.
type Scope struct {
	// Namespace to look in; "" for all namespaces.
	Namespace string
	// Selector is a label selector for the pods; "" for all.
	Selector string
	// Pods, when set, keeps only these pod names.
	Pods []string
	// Template is a workload's pod template, checked as a pod about to be created
	// when the selector finds no pod (a workload scaled to zero, or whose pods cannot
	// be created).
	Template *corev1.Pod
}

// Snapshot is everything the checks read, gathered once.
type Snapshot struct {
	Pods            []corev1.Pod
	ServiceAccounts map[string]*corev1.ServiceAccount // by namespace/name
	Secrets         map[string]*corev1.Secret         // by namespace/name
	// SecretsUnreadable and ServiceAccountsUnreadable say why those could not be
	// listed (RBAC), or are nil.
	SecretsUnreadable         error
	ServiceAccountsUnreadable error
	// Events of pods, by pod UID, oldest first.
	Events map[string][]corev1.Event
	// Elsewhere lists, for referenced Secrets missing from their pod's namespace, the
	// namespaces that do have a Secret of that name (those Secrets are in Secrets).
	Elsewhere map[string][]string
	// ClusterPullSecrets are the ClusterPullSecrets that made the regcred copies among
	// Secrets, by name; nil when one could not be read.
	ClusterPullSecrets map[string]*v1alpha1.ClusterPullSecret
	// Requests counts the API requests Gather made.
	Requests int
}

func key(namespace, name string) string { return namespace + "/" + name }

// Gather lists, page by page, the pods of the scope and the ServiceAccounts, pull
// Secrets (the two pull types, by field selector) and pod events of their namespaces:
// a fixed number of list requests whatever the number of pods, plus one request per
// referenced Secret of another type or missing, and one per ClusterPullSecret whose
// copies are among the Secrets. The pods, then their events, are listed while the
// ServiceAccounts and Secrets are: two lists under way at once, each read as it
// arrives.
func Gather(ctx context.Context, cs kubernetes.Interface, scope Scope) (*Snapshot, error) {
	s := &Snapshot{ServiceAccounts: map[string]*corev1.ServiceAccount{}, Secrets: map[string]*corev1.Secret{}, Events: map[string][]corev1.Event{}}
	core := cs.CoreV1()
	// A failed pod list stops the other lists: its error is the one Gather returns.
	podCtx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pods struct {
		requests      int
		err, eventErr error
	}
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		if pods.err, pods.eventErr = s.listPodsAndEvents(podCtx, core, scope, &pods.requests); pods.err != nil {
			cancel()
		}
	}()
	// ServiceAccounts and Secrets, while the pods are listed.
	var requests int
	saErr := list(ctx, &requests, metav1.ListOptions{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return core.ServiceAccounts(scope.Namespace).List(ctx, o)
	}, func(obj runtime.Object) {
		sa := *obj.(*corev1.ServiceAccount) // a copy: a pointer into the page would keep the whole page
		stripMeta(&sa.ObjectMeta)
		sa.Secrets = nil // token Secrets: pulls do not use them
		s.ServiceAccounts[key(sa.Namespace, sa.Name)] = &sa
	})
	var secretErr error
	if saErr == nil || forbidden(saErr) {
		for _, t := range []corev1.SecretType{corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg} {
			secretErr = list(ctx, &requests, metav1.ListOptions{FieldSelector: "type=" + string(t)}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return core.Secrets(scope.Namespace).List(ctx, o)
			}, func(obj runtime.Object) {
				sec := *obj.(*corev1.Secret)
				stripMeta(&sec.ObjectMeta)
				s.Secrets[key(sec.Namespace, sec.Name)] = &sec
			})
			if secretErr != nil {
				break
			}
		}
	}
	<-listed
	s.Requests = pods.requests + requests
	// The errors in the order of the lists one after another: pods, ServiceAccounts,
	// Secrets, referenced Secrets, events.
	if pods.err != nil {
		return nil, pods.err
	}
	switch {
	case forbidden(saErr):
		s.ServiceAccountsUnreadable = saErr
	case saErr != nil:
		return nil, fmt.Errorf("list serviceaccounts: %w", saErr)
	}
	switch {
	case forbidden(secretErr):
		s.SecretsUnreadable = secretErr
	case secretErr != nil:
		return nil, fmt.Errorf("list secrets: %w", secretErr)
	}
	if err := s.getReferenced(ctx, cs); err != nil {
		return nil, err
	}
	if pods.eventErr != nil {
		return nil, pods.eventErr
	}
	if err := s.findElsewhere(ctx, cs, scope); err != nil {
		return nil, err
	}
	s.gatherClusterPullSecrets(ctx, cs)
	return s, nil
}

// listPodsAndEvents lists the pods of the scope, then the events of those kept whole,
// counting the requests. It returns the error of the pod list, or that of the event
// list (nil when events may not be read).
func (s *Snapshot) listPodsAndEvents(ctx context.Context, core corev1client.CoreV1Interface, scope Scope, requests *int) (podErr, eventErr error) {
	want := map[string]bool{}
	for _, p := range scope.Pods {
		want[p] = true
	}
	// Pods are decoded as their pages arrive, each to what the checks read of it (see
	// listPods). detailed are the pods kept whole, by podKey: only their events are kept.
	detailed := map[string]bool{}
	err := s.listPods(ctx, core.RESTClient(), scope, requests, func(p corev1.Pod, whole bool) {
		if len(want) > 0 && !want[p.Name] {
			return
		}
		if whole {
			detailed[podKey(&p)] = true
		}
		s.Pods = append(s.Pods, p)
	})
	if err != nil {
		return fmt.Errorf("list pods: %w", err), nil
	}
	err = list(ctx, requests, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return core.Events(scope.Namespace).List(ctx, o)
	}, func(obj runtime.Object) {
		e := obj.(*corev1.Event)
		k := string(e.InvolvedObject.UID)
		if k == "" {
			k = key(e.InvolvedObject.Namespace, e.InvolvedObject.Name)
		}
		if detailed[k] {
			stripMeta(&e.ObjectMeta)
			s.Events[k] = append(s.Events[k], *e)
		}
	})
	if err != nil && !forbidden(err) {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return nil, nil
}

// list pages through a list, pageSize items a request, counting the requests. The
// next page is fetched while one is read, and no more: the list is read as fast as it
// arrives.
func list(ctx context.Context, requests *int, opts metav1.ListOptions, fn pager.ListPageFunc, each func(runtime.Object)) error {
	p := pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		*requests++
		return fn(ctx, o)
	})
	p.PageSize, p.PageBufferSize = pageSize, 1
	return p.EachListItem(ctx, opts, func(obj runtime.Object) error {
		each(obj)
		return nil
	})
}

// getReferenced fetches the pods' pull Secrets that the type-selected lists did not
// bring (another type, or missing): one request per such Secret.
func (s *Snapshot) getReferenced(ctx context.Context, cs kubernetes.Interface) error {
	if s.SecretsUnreadable != nil {
		return nil
	}
	tried := map[string]bool{}
	for _, p := range s.Pods {
		for _, ref := range p.Spec.ImagePullSecrets {
			if _, ok := s.Secrets[key(p.Namespace, ref.Name)]; ok {
				continue // the common case, without keeping a key
			}
			k := key(p.Namespace, ref.Name)
			if tried[k] {
				continue
			}
			tried[k] = true
			sec, err := cs.CoreV1().Secrets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			s.Requests++
			switch {
			case err == nil:
				stripMeta(&sec.ObjectMeta)
				s.Secrets[k] = sec
			case apierrors.IsNotFound(err):
			case forbidden(err):
				s.SecretsUnreadable = err
				return nil
			default:
				return fmt.Errorf("get secret %s: %w", k, err)
			}
		}
	}
	return nil
}

func forbidden(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

// findElsewhere looks, for each referenced Secret missing from its pod's namespace,
// for namespaces that have one of that name: from what was listed with -A, with one
// request per missing name otherwise.
func (s *Snapshot) findElsewhere(ctx context.Context, cs kubernetes.Interface, scope Scope) error {
	s.Elsewhere = map[string][]string{}
	if s.SecretsUnreadable != nil {
		return nil
	}
	for _, p := range s.Pods {
		for _, ref := range p.Spec.ImagePullSecrets {
			if _, ok := s.Secrets[key(p.Namespace, ref.Name)]; ok {
				continue
			}
			if _, done := s.Elsewhere[ref.Name]; done {
				continue
			}
			s.Elsewhere[ref.Name] = []string{}
			if scope.Namespace == "" {
				for _, sec := range s.Secrets {
					if sec.Name == ref.Name {
						s.Elsewhere[ref.Name] = append(s.Elsewhere[ref.Name], sec.Namespace)
					}
				}
				continue
			}
			list, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + ref.Name})
			s.Requests++
			if err != nil {
				continue // not allowed to look cluster-wide: the finding just says less
			}
			for i := range list.Items {
				sec := &list.Items[i]
				stripMeta(&sec.ObjectMeta)
				s.Elsewhere[ref.Name] = append(s.Elsewhere[ref.Name], sec.Namespace)
				s.Secrets[key(sec.Namespace, sec.Name)] = sec
			}
		}
	}
	for name := range s.Elsewhere {
		slices.Sort(s.Elsewhere[name])
	}
	return nil
}
