package doctor_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/apiserver"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
)

// BenchmarkDoctorDeadRegistry runs doctor -A on a real kube-apiserver over 400 pods:
// 200 distinct images on a loopback listener that accepts and never answers, 200 on a
// healthy token-auth distribution registry, every pod with a pull Secret for both.
// The run must cost about one registry time-out plus the analysis (gather, diagnose
// and the healthy registry's answers, measured with the dead images left out).
func BenchmarkDoctorDeadRegistry(b *testing.B) {
	const perRegistry, namespaces, timeout = 200, 20, 2 * time.Second
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
	silent, err := registry.StartSilent()
	if err != nil {
		b.Fatal(err)
	}
	defer silent.Close()
	dead := silent.Host
	healthy, err := registry.Start(ctx, registry.Options{Auth: registry.AuthToken, Users: map[string]string{"alice": "alice-password"}, Pull: map[string][]string{"alice": {"team/*"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer healthy.Close()
	img, err := images.Pause(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var all, live []string
	for i := range perRegistry {
		ref := fmt.Sprintf("team/app-%d:v1", i)
		if _, err := healthy.Push(ctx, ref, img); err != nil {
			b.Fatal(err)
		}
		live = append(live, healthy.Ref(ref))
		all = append(all, dead+"/"+ref, healthy.Ref(ref))
	}
	if err := seedImages(ctx, cs, "dead", namespaces, all, []string{dead, healthy.Host}); err != nil {
		b.Fatal(err)
	}
	if err := seedImages(ctx, cs, "live", namespaces, live, []string{healthy.Host}); err != nil {
		b.Fatal(err)
	}

	run := func(sel string) (doctor.Report, map[verify.Outcome]int, int, time.Duration) {
		var mu sync.Mutex
		outcomes, remembered := map[verify.Outcome]int{}, 0
		probe := doctor.RegistryProbe(&verify.Checker{Timeout: timeout}, 0)
		counting := func(ctx context.Context, image string, cred *dockercfg.Credential) (verify.Result, error) {
			r, err := probe(ctx, image, cred)
			mu.Lock()
			outcomes[r.Outcome]++
			if strings.Contains(r.Detail, "remembered") {
				remembered++
			}
			mu.Unlock()
			return r, err
		}
		start := time.Now()
		snap, err := doctor.Gather(ctx, cs, doctor.Scope{Selector: sel})
		if err != nil {
			b.Fatal(err)
		}
		// Both registries are on loopback: the nodes are this machine, so they are probed.
		thisMachine := func(context.Context, string) bool { return true }
		report := doctor.Diagnose(ctx, snap, doctor.Options{Probe: counting, LocalNode: thisMachine})
		return report, outcomes, remembered, time.Since(start)
	}
	// The analysis alone: the same doctor -A over the 200 healthy images only.
	_, liveOutcomes, _, analysis := run("set=live")
	if liveOutcomes[verify.OK] != perRegistry {
		b.Fatalf("healthy images: %v, want %d OK", liveOutcomes, perRegistry)
	}
	var took time.Duration
	var outcomes map[verify.Outcome]int
	var remembered int
	b.ResetTimer()
	for b.Loop() {
		_, outcomes, remembered, took = run("set=dead")
	}
	b.StopTimer()
	if outcomes[verify.OK] != perRegistry || outcomes[verify.RegistryUnreachable] != perRegistry || remembered != perRegistry-1 {
		b.Fatalf("probe answers %v, %d remembered; want %d OK, %d RegistryUnreachable, all but the first remembered", outcomes, remembered, perRegistry, perRegistry)
	}
	if took > analysis+2*timeout {
		b.Errorf("doctor -A took %s with %d images on a dead registry; want about one time-out (%s) plus the analysis (%s)", took, perRegistry, timeout, analysis)
	}
	b.ReportMetric(timeout.Seconds(), "registry-timeout-s")
	b.ReportMetric(analysis.Seconds(), "analysis-s")
	b.ReportMetric((took - analysis).Seconds(), "extra-s/op")
}

// seedImages spreads one pod per image over namespaces PREFIX-N, each with a pull
// Secret that has alice's credential for every host; pods are labelled set=PREFIX.
func seedImages(ctx context.Context, cs kubernetes.Interface, prefix string, namespaces int, imgs, hosts []string) error {
	var servers []dockercfg.Server
	for _, h := range hosts {
		servers = append(servers, dockercfg.Server{Key: h, Credential: dockercfg.Credential{Username: "alice", Password: "alice-password"}})
	}
	data, err := dockercfg.Marshal(servers...)
	if err != nil {
		return err
	}
	for n := range namespaces {
		ns := fmt.Sprintf("%s-%02d", prefix, n)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for i, image := range imgs {
		ns := fmt.Sprintf("%s-%02d", prefix, i%namespaces)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Labels: map[string]string{"set": prefix}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
