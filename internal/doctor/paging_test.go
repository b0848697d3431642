package doctor

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/test/apiserver"
)

// TestGatherPages lists pods, ServiceAccounts and Secrets from a real kube-apiserver
// in pages smaller than the lists, so that every page after the first is asked for
// while the one before it is still read: each object comes once, in the API server's
// order, in the number of requests the pages take.
func TestGatherPages(t *testing.T) {
	ctx := context.Background()
	srv, err := apiserver.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns, pods, secrets = "paging", 10, 4
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range pods {
		name := fmt.Sprintf("pod-%02d", i)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "reg.example.com/app:1"}}}}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	for i := range secrets {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pull-%d", i)}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	defer func(size int64) { pageSize = size }(pageSize)
	for _, tt := range []struct {
		name string
		size int64
	}{
		{"pages of 3: four of pods, one of them short", 3},
		{"pages of 5: the pods fill two pages exactly", 5},
		{"one page of 10", 10},
		{"one page larger than the list", 5000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pageSize = tt.size
			pages := func(n int) int { return max(1, (n+int(tt.size)-1)/int(tt.size)) }
			snap, err := Gather(ctx, cs, Scope{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range snap.Pods {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("pods %v, want %v", got, want)
			}
			if len(snap.Secrets) != secrets {
				t.Errorf("%d Secrets, want %d", len(snap.Secrets), secrets)
			}
			// pods, ServiceAccounts (none: no controller makes "default" here), the two
			// pull Secret types, events
			if requests := pages(pods) + 1 + pages(secrets) + 1 + 1; snap.Requests != requests {
				t.Errorf("%d API requests, want %d", snap.Requests, requests)
			}
		})
	}
}
