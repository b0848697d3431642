package doctor

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Scope says which pods to look at.
type Scope struct {
	// Namespace to look in; "" for all namespaces.
	Namespace string
	// Selector is a label selector for the pods; "" for all.
	Selector string
	// Pods, when set, keeps only these pod names.
	Pods []string
}

// Snapshot is everything the checks read, gathered once.
type Snapshot struct {
	Pods            []corev1.Pod
	ServiceAccounts map[string]*corev1.ServiceAccount // by namespace/name
	Secrets         map[string]*corev1.Secret         // by namespace/name
	// SecretsUnreadable is why Secrets could not be listed (RBAC), or nil.
	SecretsUnreadable error
	// Events of pods, by namespace/name, oldest first.
	Events map[string][]corev1.Event
	// Elsewhere lists, for referenced Secrets missing from their pod's namespace, the
	// namespaces that do have a Secret of that name.
	Elsewhere map[string][]string
	// Requests counts the API requests Gather made.
	Requests int
}

func key(namespace, name string) string { return namespace + "/" + name }

// Gather lists the pods of the scope and the ServiceAccounts, Secrets and pod events
// of their namespaces: four list requests, whatever the number of pods.
func Gather(ctx context.Context, cs kubernetes.Interface, scope Scope) (*Snapshot, error) {
	s := &Snapshot{ServiceAccounts: map[string]*corev1.ServiceAccount{}, Secrets: map[string]*corev1.Secret{}, Events: map[string][]corev1.Event{}}
	pods, err := cs.CoreV1().Pods(scope.Namespace).List(ctx, metav1.ListOptions{LabelSelector: scope.Selector})
	s.Requests++
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	want := map[string]bool{}
	for _, p := range scope.Pods {
		want[p] = true
	}
	for _, p := range pods.Items {
		if len(want) == 0 || want[p.Name] {
			s.Pods = append(s.Pods, p)
		}
	}
	sas, err := cs.CoreV1().ServiceAccounts(scope.Namespace).List(ctx, metav1.ListOptions{})
	s.Requests++
	if err != nil {
		return nil, fmt.Errorf("list serviceaccounts: %w", err)
	}
	for i := range sas.Items {
		sa := &sas.Items[i]
		s.ServiceAccounts[key(sa.Namespace, sa.Name)] = sa
	}
	secrets, err := cs.CoreV1().Secrets(scope.Namespace).List(ctx, metav1.ListOptions{})
	s.Requests++
	switch {
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		s.SecretsUnreadable = err
	case err != nil:
		return nil, fmt.Errorf("list secrets: %w", err)
	default:
		for i := range secrets.Items {
			sec := &secrets.Items[i]
			s.Secrets[key(sec.Namespace, sec.Name)] = sec
		}
	}
	events, err := cs.CoreV1().Events(scope.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"})
	s.Requests++
	if err != nil && !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if err == nil {
		for _, e := range events.Items {
			k := key(e.InvolvedObject.Namespace, e.InvolvedObject.Name)
			s.Events[k] = append(s.Events[k], e)
		}
	}
	return s, s.findElsewhere(ctx, cs, scope)
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
			for _, sec := range list.Items {
				s.Elsewhere[ref.Name] = append(s.Elsewhere[ref.Name], sec.Namespace)
			}
		}
	}
	for name := range s.Elsewhere {
		slices.Sort(s.Elsewhere[name])
	}
	return nil
}
