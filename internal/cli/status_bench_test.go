package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/cli"
	"github.com/regcred/regcred/internal/pullsecret"
)

// BenchmarkStatusManyNamespaces runs `status NAME` for a ClusterPullSecret that
// targets 1,000 of 1,200 namespaces, each with its copy and a default ServiceAccount
// that references it, on the real kube-apiserver; it reports the API requests per run.
func BenchmarkStatusManyNamespaces(b *testing.B) {
	const namespaces, targeted = 1200, 1000
	ctx := context.Background()
	c := cpsClient(b)
	name := fmt.Sprintf("bench-%d", nsCounter.Add(1))
	src := fmt.Sprintf("bench-src-%d", nsCounter.Add(1))
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: src}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	content := sourceSecret(b, src, "pull")
	label := map[string]string{"regcred.dev/bench": name}
	cps := newClusterPullSecret(b, c, &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source:            v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: src, Name: "pull"}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: label},
		},
	}, v1alpha1.ClusterPullSecretStatus{SourceHash: content.Hash, Namespaces: v1alpha1.NamespaceCounts{Targeted: targeted, Synced: targeted}})
	work := make(chan int)
	errs := make(chan error, namespaces)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := seedStatusNamespace(ctx, cps, content, fmt.Sprintf("%s-%04d", name, i), i < targeted, label); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range namespaces {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	var out string
	var requests int
	b.ResetTimer()
	for b.Loop() {
		before := apiRequests(b)
		var stdout, stderr bytes.Buffer
		if code := cli.Run(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}, []string{"--kubeconfig", kubeconfig, "status", name}); code != 0 {
			b.Fatalf("status %s: exit %d, %s", name, code, stderr.String())
		}
		requests = 0
		for _, n := range apiRequests(b).since(before) {
			requests += n
		}
		out = stdout.String()
	}
	b.StopTimer()
	if !strings.Contains(out, fmt.Sprintf("%d namespaces targeted: %d synced", targeted, targeted)) {
		b.Errorf("status output:\n%s", out[strings.LastIndex(out[:len(out)-1], "\n")+1:])
	}
	b.ReportMetric(float64(requests), "api-requests/op")
}

func seedStatusNamespace(ctx context.Context, cps *v1alpha1.ClusterPullSecret, content *pullsecret.Content, ns string, target bool, label map[string]string) error {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if target {
		n.Labels = label
		change := pullsecret.Reference(sa, cps.Name, cps.TargetSecretName(), true)
		sa.ImagePullSecrets = change.ImagePullSecrets
		sa.Annotations = map[string]string{v1alpha1.AnnotationAddedPullSecrets: change.Annotation}
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return err
	}
	if !target {
		return nil
	}
	_, err := kube.CoreV1().Secrets(ns).Create(ctx, pullsecret.Copy(cps, ns, content), metav1.CreateOptions{})
	return err
}
