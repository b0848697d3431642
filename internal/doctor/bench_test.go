package doctor_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/apiserver"
)

// BenchmarkDoctorAllNamespaces seeds a real kube-apiserver with 5,000 pods in 500
// namespaces and 1,000 pull Secrets, then runs the whole doctor -A analysis: gather
// and diagnose. Registry probes are counted but answered at once, so the time is the
// analysis alone.
func BenchmarkDoctorAllNamespaces(b *testing.B) {
	const namespaces, podsPerNS, secretsPerNS, images = 500, 10, 2, 20
	ctx := context.Background()
	srv, err := apiserver.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	cfg := srv.Config
	cfg.QPS, cfg.Burst = 1000, 2000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	seedStart := time.Now()
	if err := seed(ctx, cs, namespaces, podsPerNS, secretsPerNS, images); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d pods in %d namespaces with %d Secrets in %s", namespaces*podsPerNS, namespaces, namespaces*secretsPerNS, time.Since(seedStart).Round(time.Second))

	var probes atomic.Int64
	probe := func(ctx context.Context, image string, cred *dockercfg.Credential) (verify.Result, error) {
		probes.Add(1)
		return verify.Result{Outcome: verify.OK}, nil
	}
	var snap *doctor.Snapshot
	var report doctor.Report
	b.ResetTimer()
	for b.Loop() {
		probes.Store(0)
		snap, err = doctor.Gather(ctx, cs, doctor.Scope{})
		if err != nil {
			b.Fatal(err)
		}
		report = doctor.Diagnose(ctx, snap, doctor.Options{Probe: probe})
	}
	b.StopTimer()
	if len(snap.Pods) != namespaces*podsPerNS {
		b.Fatalf("gathered %d pods, want %d", len(snap.Pods), namespaces*podsPerNS)
	}
	b.ReportMetric(float64(snap.Requests), "api-requests/op")
	b.ReportMetric(float64(probes.Load()), "registry-probes/op")
	b.ReportMetric(float64(report.Summary.Pods), "pods/op")
}

// seed creates the namespaces, their default ServiceAccounts, pull Secrets and pods.
func seed(ctx context.Context, cs kubernetes.Interface, namespaces, podsPerNS, secretsPerNS, images int) error {
	work := make(chan int)
	errs := make(chan error, namespaces)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := seedNamespace(ctx, cs, n, podsPerNS, secretsPerNS, images); err != nil {
					errs <- err
				}
			}
		}()
	}
	for n := range namespaces {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func seedNamespace(ctx context.Context, cs kubernetes.Interface, n, podsPerNS, secretsPerNS, images int) error {
	ns := fmt.Sprintf("bench-%03d", n)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	var refs []corev1.LocalObjectReference
	for s := range secretsPerNS {
		name := fmt.Sprintf("pull-%d", s)
		data, err := dockercfg.Marshal(dockercfg.Server{Key: "reg.example.com", Credential: dockercfg.Credential{Username: fmt.Sprintf("%s-user-%d", ns, s), Password: "pw"}})
		if err != nil {
			return err
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			return err
		}
		refs = append(refs, corev1.LocalObjectReference{Name: name})
	}
	for p := range podsPerNS {
		image := fmt.Sprintf("reg.example.com/team/app-%d:v1", (n+p)%images)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", p)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}, ImagePullSecrets: refs},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
