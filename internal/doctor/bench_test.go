package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/verify"
	"github.com/regcred/regcred/test/apiserver"
)

// The cluster of the benchmarks: namespaces bench-0000, bench-0001, ... each with a
// default ServiceAccount, two pull Secrets (a user of its own on reg.example.com) and
// ten pods that reference both, on 50 nodes, with the statuses a kubelet gives them:
// nine of ten run with their container ready; in one namespace of ten the tenth pod
// cannot pull (ImagePullBackOff, 401 Unauthorized, with the kubelet's events), in
// the others it runs too. Images repeat over 20 repositories.
const (
	benchPodsPerNS    = 10
	benchSecretsPerNS = 2
	benchImages       = 20
	benchNodes        = 50
)

// benchCluster is one kube-apiserver seeded for the benchmarks, kept from one
// benchmark to the next and grown when a larger one asks: seeding 50,000 pods costs
// far more than a doctor run.
var benchCluster struct {
	srv        *apiserver.Server
	cs         kubernetes.Interface
	kubeconfig string
	namespaces int
}

// seededCluster returns a client of a kube-apiserver with exactly this many
// namespaces of the benchmark's shape.
func seededCluster(b *testing.B, namespaces int) kubernetes.Interface {
	b.Helper()
	ctx := context.Background()
	c := &benchCluster
	if c.srv != nil && c.namespaces > namespaces {
		stopBenchCluster() // a smaller cluster after a larger one (-count): start again
	}
	if c.srv == nil {
		srv, err := apiserver.Start(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c.srv, c.namespaces = srv, 0
		cfg := rest.CopyConfig(srv.Config)
		cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: seeding is bound by the server
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
			b.Fatal(err)
		}
		dir, err := os.MkdirTemp("", "regcred-doctor-bench-")
		if err != nil {
			b.Fatal(err)
		}
		c.kubeconfig = filepath.Join(dir, "kubeconfig")
		if err := srv.WriteKubeconfig(c.kubeconfig); err != nil {
			b.Fatal(err)
		}
	}
	if c.namespaces < namespaces {
		start := time.Now()
		if err := seed(ctx, c.cs, c.namespaces, namespaces); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded namespaces %d to %d (%d pods, %d Secrets) in %s", c.namespaces, namespaces-1,
			(namespaces-c.namespaces)*benchPodsPerNS, (namespaces-c.namespaces)*benchSecretsPerNS, time.Since(start).Round(time.Second))
		c.namespaces = namespaces
	}
	return c.cs
}

func stopBenchCluster() {
	c := &benchCluster
	if c.srv == nil {
		return
	}
	_ = c.srv.Stop()
	_ = os.RemoveAll(filepath.Dir(c.kubeconfig))
	*c = struct {
		srv        *apiserver.Server
		cs         kubernetes.Interface
		kubeconfig string
		namespaces int
	}{}
}

// BenchmarkDoctorAllNamespaces runs the whole doctor -A analysis, gather and diagnose,
// on a real kube-apiserver: 5,000 pods in 500 namespaces, and 50,000 in 5,000.
// Registry probes are counted but answered at once, so the time is the analysis
// alone. After the timed runs, one more run in a child process of its own gives the
// peak RSS of a doctor run (the benchmark process also seeded the cluster, so its own
// RSS says nothing of doctor's).
func BenchmarkDoctorAllNamespaces(b *testing.B) {
	for _, namespaces := range []int{500, 5000} {
		b.Run(fmt.Sprintf("pods=%d", namespaces*benchPodsPerNS), func(b *testing.B) {
			benchDoctor(b, namespaces)
		})
	}
}

func benchDoctor(b *testing.B, namespaces int) {
	ctx := context.Background()
	seededCluster(b, namespaces)
	cs, err := doctorClient(benchCluster.kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	var probes atomic.Int64
	var res doctorRun
	// The timed runs collect garbage as the plugin's doctor does, not at the test
	// binary's GOGC=100: the plugin's time is the one to measure.
	prev := debug.SetGCPercent(100)
	debug.SetGCPercent(prev)
	doctor.CollectSooner()
	defer debug.SetGCPercent(prev)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := livePodWrite(ctx, benchCluster.cs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		probes.Store(0)
		res, err = runDoctor(ctx, cs, &probes)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := checkRun(res, namespaces); err != nil {
		b.Fatal(err)
	}
	if err := livePodWrite(ctx, benchCluster.cs); err != nil {
		b.Fatal(err)
	}
	child, rss, cpu, err := runDoctorChild(benchCluster.kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	if !equalRuns(child, res) {
		b.Fatalf("the child's run found %+v, the benchmark's %+v", child, res)
	}
	b.ReportMetric(float64(res.Requests), "api-requests/op")
	b.ReportMetric(float64(probes.Load()), "registry-probes/op")
	b.ReportMetric(float64(res.Pods), "pods/op")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(child.Seconds, "child-s")
	b.ReportMetric(cpu.Seconds(), "child-cpu-s")
}

// livePodWrite writes one pod, as a live cluster's kubelets and controllers do all the
// time, so that the API server serves every page of a pod list from its watch cache.
// It serves the pages after the first at the resource version of the first, from a
// snapshot of its cache at that version or later; it drops its snapshots older than
// the last compaction of etcd (every 5 minutes), so in a cluster with no pod written
// since, those pages come from etcd instead, which costs it several times the CPU
// (see the README). The annotation is read by no check.
func livePodWrite(ctx context.Context, cs kubernetes.Interface) error {
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"bench.regcred.dev/written":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := cs.CoreV1().Pods("bench-0000").Patch(ctx, "app-0", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("write a pod as a live cluster does: %w", err)
	}
	return nil
}

// doctorRun is what one doctor -A run found, and what it cost.
type doctorRun struct {
	Pods, Requests, Errors, Warnings int
	Codes                            map[doctor.Code]int
	// Seconds, Allocs and Bytes are the cost of the run: time, heap allocations and
	// bytes allocated.
	Seconds       float64
	Allocs, Bytes uint64
}

func equalRuns(a, b doctorRun) bool {
	return a.Pods == b.Pods && a.Requests == b.Requests && a.Errors == b.Errors && a.Warnings == b.Warnings && fmt.Sprint(a.Codes) == fmt.Sprint(b.Codes)
}

// checkRun checks what doctor -A found in the benchmark's cluster: one error for each
// pod that cannot pull, nothing else, and a fixed number of list requests (pages of
// 5,000, doctor's page size) whatever the number of pods.
func checkRun(got doctorRun, namespaces int) error {
	failing := (namespaces + 9) / 10
	pages := func(n int) int { return max(1, (n+4999)/5000) }
	// pods, ServiceAccounts, the two pull Secret types, events
	requests := pages(namespaces*benchPodsPerNS) + pages(namespaces) + pages(namespaces*benchSecretsPerNS) + 1 + pages(2*failing)
	findings := 0
	for _, n := range got.Codes {
		findings += n
	}
	if got.Pods != namespaces*benchPodsPerNS || got.Requests != requests || got.Errors != failing || got.Warnings != 0 || findings != failing {
		return fmt.Errorf("doctor -A found %d pods, %d errors, %d warnings, codes %v in %d API requests; want %d pods, %d errors (one per pod that cannot pull) and nothing else, in %d API requests",
			got.Pods, got.Errors, got.Warnings, got.Codes, got.Requests, namespaces*benchPodsPerNS, failing, requests)
	}
	return nil
}

// doctorClient is the client a user's doctor run has: from a kubeconfig, with the
// client-side rate limit the plugin's doctor sets (50 a second after a burst of 300).
func doctorClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 300
	return kubernetes.NewForConfig(cfg)
}

// runDoctor is one doctor -A analysis: gather, then diagnose with instant probes.
func runDoctor(ctx context.Context, cs kubernetes.Interface, probes *atomic.Int64) (doctorRun, error) {
	probe := func(ctx context.Context, image string, cred *dockercfg.Credential) (verify.Result, error) {
		probes.Add(1)
		return verify.Result{Outcome: verify.OK}, nil
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	snap, err := doctor.Gather(ctx, cs, doctor.Scope{})
	if err != nil {
		return doctorRun{}, err
	}
	report := doctor.Diagnose(ctx, snap, doctor.Options{Probe: probe})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return doctorRun{Pods: report.Summary.Pods, Requests: report.Summary.Requests, Errors: report.Summary.Errors, Warnings: report.Summary.Warnings, Codes: report.Summary.Codes,
		Seconds: elapsed.Seconds(), Allocs: after.Mallocs - before.Mallocs, Bytes: after.TotalAlloc - before.TotalAlloc}, nil
}

// childEnv, set to a kubeconfig, makes the test binary one doctor -A run (see TestMain).
const childEnv = "REGCRED_DOCTOR_BENCH_CHILD"

// runDoctorChild runs one doctor -A in a child process, this test binary again, with
// GOGC and GOMEMLIMIT unset, as the plugin runs on a user's machine (its doctor then
// sets the collector as doctor.CollectSooner does). It returns what the run found, the
// child's peak resident set size in bytes and its CPU time, which says more than the
// time on a loaded machine. The peak is the child's VmHWM (/proc/self/status, read by
// the child as it ends): the high-water mark of its own address space, Go runtime and
// binary included, not an estimate from heap statistics. wait4's ru_maxrss is no use
// here: on Linux a child's starts at its parent's high-water mark when it execs.
func runDoctorChild(kubeconfig string) (doctorRun, int64, time.Duration, error) {
	cmd := exec.Command(os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, childEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"="+kubeconfig)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return doctorRun{}, 0, 0, fmt.Errorf("doctor -A in a child process: %w", err)
	}
	var res struct {
		doctorRun
		PeakRSS int64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return doctorRun{}, 0, 0, fmt.Errorf("read the child's result %q: %w", out, err)
	}
	return res.doctorRun, res.PeakRSS, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// peakRSS is this process's VmHWM, in bytes.
func peakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("read VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// doctorChild is the child process's run: it prints what it found as JSON.
func doctorChild(kubeconfig string) int {
	cs, err := doctorClient(kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	doctor.CollectSooner() // as the plugin's doctor does
	var probes atomic.Int64
	res, err := runDoctor(context.Background(), cs, &probes)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rss, err := peakRSS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := json.NewEncoder(os.Stdout).Encode(struct {
		doctorRun
		PeakRSS int64
	}{res, rss}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// seed creates namespaces from to to-1 with their ServiceAccount, Secrets, pods and
// pod statuses, 64 at a time.
func seed(ctx context.Context, cs kubernetes.Interface, from, to int) error {
	work := make(chan int)
	errs := make(chan error, to-from)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := seedNamespace(ctx, cs, n); err != nil {
					errs <- err
				}
			}
		}()
	}
	for n := from; n < to; n++ {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func seedNamespace(ctx context.Context, cs kubernetes.Interface, n int) error {
	ns := fmt.Sprintf("bench-%04d", n)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	var refs []corev1.LocalObjectReference
	for s := range benchSecretsPerNS {
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
	for p := range benchPodsPerNS {
		image := fmt.Sprintf("reg.example.com/team/app-%d:v1", (n+p)%benchImages)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", p), Labels: map[string]string{"app": "app", "pod-template-hash": "5d4f8b9c7"},
				Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5d4f8b9c7", UID: "0d3c1f6e-5d4f-4b9c-8a7e-000000000000",
					Controller: new(true), BlockOwnerDeletion: new(true)}}},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: image,
					Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					Env:       []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					Resources: corev1.ResourceRequirements{}}},
				ImagePullSecrets: refs,
				NodeName:         fmt.Sprintf("node-%02d", (n*benchPodsPerNS+p)%benchNodes),
			},
		}
		created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		failing := p == benchPodsPerNS-1 && n%10 == 0
		created.Status = benchStatus(created, failing)
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return err
		}
		if failing {
			for _, e := range []struct{ reason, message string }{
				{"Failed", `Failed to pull image "` + image + `": failed to pull and unpack image "` + image + `": failed to resolve reference "` + image + `": pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`},
				{"BackOff", `Back-off pulling image "` + image + `"`},
			} {
				ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: created.Name + "."},
					InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: created.Name, UID: created.UID, APIVersion: "v1", FieldPath: "spec.containers{app}"},
					Reason:         e.reason, Message: e.message, Type: corev1.EventTypeWarning, Source: corev1.EventSource{Component: "kubelet", Host: created.Spec.NodeName},
					FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1}
				if _, err := cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// benchStatus is the status a kubelet gives a pod that runs, or whose pull is refused.
func benchStatus(p *corev1.Pod, failing bool) corev1.PodStatus {
	started := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := p.Spec.Containers[0]
	st := corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "10.0.0.1", PodIP: "10.244.0.1", StartTime: &started, QOSClass: corev1.PodQOSBestEffort,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: started},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: started}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: started}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, ImageID: c.Image + "@sha256:" + strings.Repeat("ab", 32), ContainerID: "containerd://" + strings.Repeat("cd", 32),
			Ready: true, Started: new(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}},
	}
	if failing {
		st.Phase = corev1.PodPending
		for i := range st.Conditions[:2] {
			st.Conditions[i].Status = corev1.ConditionFalse
		}
		st.ContainerStatuses[0] = corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(false),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "` + c.Image + `": ErrImagePull: failed to pull and unpack image: pulling from host reg.example.com failed with status code [manifests v1]: 401 Unauthorized`}}}
	}
	return st
}
