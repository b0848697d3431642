package controller

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/regcred/regcred/internal/pullsecret"
)

// sources watches each source Secret by its name alone (a field selector on one
// namespace), so that no other Secret of the cluster is ever held in memory, and
// remembers the content read from it per resourceVersion.
type sources struct {
	client corev1client.SecretsGetter
	// changed is called with a source's key whenever it changes, and once when its
	// watch has first synced.
	changed func(types.NamespacedName)

	mu      sync.Mutex
	watches map[types.NamespacedName]*sourceWatch

	// creds mints the credentials of credentialProvider sources (credentials.go).
	creds *credentials
}

type sourceWatch struct {
	informer toolscache.SharedIndexInformer
	stop     context.CancelFunc

	mu      sync.Mutex
	rv      string
	content *pullsecret.Content
	err     error
}

// sourceState is what a source holds right now.
type sourceState struct {
	// Synced is false until the source's watch has listed once.
	Synced bool
	// Found is false when the Secret does not exist.
	Found   bool
	Content *pullsecret.Content
	// Err says why the Secret cannot serve as a source (pullsecret.ErrSource...).
	Err error

	// Credential provider sources only (credentials.go): when the credential served
	// was minted and expires, and why its last refresh failed.
	MintedAt, ExpiresAt time.Time
	RefreshErr          error
}

func newSources(client corev1client.SecretsGetter, changed func(types.NamespacedName)) *sources {
	return &sources{client: client, changed: changed, watches: map[types.NamespacedName]*sourceWatch{}}
}

// Get returns the source's state, starting its watch on first use.
func (s *sources) Get(ctx context.Context, key types.NamespacedName) sourceState {
	w := s.ensure(ctx, key)
	if !w.informer.HasSynced() {
		return sourceState{}
	}
	obj, ok, err := w.informer.GetStore().GetByKey(key.String())
	if err != nil || !ok {
		return sourceState{Synced: true}
	}
	sec := obj.(*corev1.Secret)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rv != sec.ResourceVersion {
		w.rv = sec.ResourceVersion
		w.content, w.err = pullsecret.ContentFrom(sec)
	}
	return sourceState{Synced: true, Found: true, Content: w.content, Err: w.err}
}

func (s *sources) ensure(ctx context.Context, key types.NamespacedName) *sourceWatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.watches[key]; ok {
		return w
	}
	sel := fields.OneTermEqualSelector("metadata.name", key.Name).String()
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return s.client.Secrets(key.Namespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return s.client.Secrets(key.Namespace).Watch(ctx, o)
		},
	}
	inf := toolscache.NewSharedIndexInformer(lw, &corev1.Secret{}, 0, toolscache.Indexers{})
	_ = inf.SetTransform(func(o any) (any, error) {
		if m, ok := o.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return o, nil
	})
	notify := func(any) { s.changed(key) }
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: notify, UpdateFunc: func(_, o any) { notify(o) }, DeleteFunc: notify,
	})
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w := &sourceWatch{informer: inf, stop: stop}
	s.watches[key] = w
	go inf.RunWithContext(wctx)
	go func() {
		// A source that does not exist gives no event: say so once the list is in.
		if toolscache.WaitForCacheSync(wctx.Done(), inf.HasSynced) {
			s.changed(key)
		}
	}()
	return w
}

// Retain stops the watches of sources no ClusterPullSecret names any more.
func (s *sources) Retain(keep map[types.NamespacedName]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, w := range s.watches {
		if !keep[k] {
			w.stop()
			delete(s.watches, k)
		}
	}
}

// StopAll stops every watch.
func (s *sources) StopAll() {
	s.Retain(nil)
	s.creds.StopAll()
}
