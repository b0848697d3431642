package controller_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/test/images"
)

// BenchmarkFanOut1000 measures, on the real API server, in one run:
//   - floor: a plain client-go program with no rate limit and 64 workers that creates
//     the Secret and patches the default ServiceAccount in 1,000 namespaces;
//   - fanout: regcred-controller (the real binary, its default flags) from
//     ClusterPullSecret creation until all 1,000 namespaces have the copy and the
//     reference, and its ratio to the floor;
//   - writes/ns during the fan-out, from the controller's regcred_writes_total;
//   - newns-ms: a namespace made at steady state, until its copy and reference
//     (median of 20);
//   - idle-requests: API requests of the controller over 3 minutes of steady state;
//   - rss-MiB at steady state, then after 20,000 unrelated Secrets.
//
// REGCRED_BENCH_IDLE shortens the steady-state wait (a Go duration); with
// REGCRED_BENCH_PPROF=HOST:PORT the controller serves pprof there and its heap profile
// is saved at the end, sampled every 16 KiB.
//
// The controller runs with --leader-elect=false so that Lease renewals (one every 2 s
// with leader election on) do not count as steady-state requests.
func BenchmarkFanOut1000(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	data := pullConfig(b, "registry.example", "bench", "pw")
	sourceSecret(b, "bench-src", "creds", data)
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("bench-%04d", i))
	}
	parallel(b, 32, names, func(ns string) error {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"bench": "yes"}}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		return err
	})

	// The floor: 2,000 writes with 64 workers and no client-side limit.
	floorStart := time.Now()
	parallel(b, 64, names, func(ns string) error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "floor"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
		if _, err := kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := kube.CoreV1().ServiceAccounts(ns).Patch(ctx, "default", types.MergePatchType, []byte(`{"imagePullSecrets":[{"name":"floor"}]}`), metav1.PatchOptions{})
		return err
	})
	floor := time.Since(floorStart)
	parallel(b, 64, names, func(ns string) error {
		if err := kube.CoreV1().Secrets(ns).Delete(ctx, "floor", metav1.DeleteOptions{}); err != nil {
			return err
		}
		_, err := kube.CoreV1().ServiceAccounts(ns).Patch(ctx, "default", types.MergePatchType, []byte(`{"imagePullSecrets":null}`), metav1.PatchOptions{})
		return err
	})

	ctl := startBinary(b)
	defer ctl.stop()
	time.Sleep(2 * time.Second) // caches listed

	done := watchSynced(b, "bench", n)
	start := time.Now()
	makeCPS(b, "bench", "bench-src", "creds", func(c *v1alpha1.ClusterPullSecret) {
		c.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bench": "yes"}}
	})
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatal("fan-out did not finish in 5 minutes")
	}
	fanout := time.Since(start)
	time.Sleep(time.Second)
	writes := ctl.metric(b, "regcred_writes_total")

	// New namespaces at steady state. The clock starts when the namespace exists (its
	// create returned); the ServiceAccount is then created at once, as the
	// ServiceAccount controller of kube-controller-manager does. lat counts from
	// the namespace's creation, call from the start of the create call.
	var lat, call []time.Duration
	for i := range 20 {
		ns := fmt.Sprintf("bench-new-%02d", i)
		done := watchSynced(b, "bench", 1, ns)
		t0 := time.Now()
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"bench": "yes"}}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatalf("namespace %s not synced in 30s", ns)
		}
		lat = append(lat, time.Since(t1))
		call = append(call, time.Since(t0))
	}
	slices.Sort(lat)
	slices.Sort(call)
	median := lat[len(lat)/2]

	// Steady state.
	time.Sleep(2 * time.Second)
	idle := os.Getenv("REGCRED_BENCH_IDLE")
	idleFor := 3 * time.Minute
	if idle != "" {
		if d, err := time.ParseDuration(idle); err == nil {
			idleFor = d
		}
	}
	before := ctl.metric(b, "rest_client_requests_total")
	rss0 := ctl.rssMiB(b, "VmRSS")
	time.Sleep(idleFor)
	idleRequests := ctl.metric(b, "rest_client_requests_total") - before

	// 20,000 unrelated Secrets, in the targeted namespaces.
	var secretNames []string
	for i := range 20000 {
		secretNames = append(secretNames, fmt.Sprintf("%s/unrelated-%05d", names[i%n], i))
	}
	parallel(b, 64, secretNames, func(key string) error {
		ns, name, _ := strings.Cut(key, "/")
		_, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"k": strings.Repeat("v", 512)}}, metav1.CreateOptions{})
		return err
	})
	time.Sleep(5 * time.Second)
	rss1, anon1, file1 := ctl.rssMiB(b, "VmRSS"), ctl.rssMiB(b, "RssAnon"), ctl.rssMiB(b, "RssFile")
	if pprof := os.Getenv("REGCRED_BENCH_PPROF"); pprof != "" {
		saveHeapProfile(b, pprof)
	}
	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(fanout.Seconds(), "fanout-s")
	b.ReportMetric(fanout.Seconds()/floor.Seconds(), "x-floor")
	b.ReportMetric(writes/n, "writes/ns")
	b.ReportMetric(float64(median.Microseconds())/1000, "newns-ms")
	b.ReportMetric(float64(call[len(call)/2].Microseconds())/1000, "newns-call-ms")
	b.ReportMetric(idleRequests, "idle-requests")
	b.ReportMetric(rss0, "rss-MiB")
	b.ReportMetric(rss1, "rss-20k-MiB")
	b.ReportMetric(anon1, "rss-anon-20k-MiB")
	b.Logf("floor %v, fan-out %v (%.2fx), %.2f writes/ns, new namespace median %v (min %v, max %v; %v from the create call), %v idle: %.0f requests, RSS %.1f MiB then %.1f MiB with 20,000 unrelated Secrets (%.1f MiB anonymous, %.1f MiB pages of the executable)",
		floor, fanout, fanout.Seconds()/floor.Seconds(), writes/n, median, lat[0], lat[len(lat)-1], call[len(call)/2], idleFor, idleRequests, rss0, rss1, anon1, file1)
	for range b.N {
	}
}

// saveHeapProfile writes the controller's heap profile, from its pprof endpoint at
// addr, to regcred-controller-heap.pprof in the temporary folder, for go tool pprof.
func saveHeapProfile(b testing.TB, addr string) {
	b.Helper()
	for _, p := range []struct{ query, file string }{
		{"gc=1", "regcred-controller-heap.pprof"},
		{"debug=1", "regcred-controller-heap.txt"}, // ends with runtime.MemStats
	} {
		r, err := http.Get("http://" + addr + "/debug/pprof/heap?" + p.query)
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(os.TempDir(), p.file)
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err == nil {
			err = os.WriteFile(out, body, 0o644)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("controller heap profile: %s", out)
	}
}

func parallel(b testing.TB, workers int, items []string, f func(string) error) {
	b.Helper()
	ch := make(chan string)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := f(it); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// watchSynced closes the returned channel once want namespaces (those named, or any)
// have the copy named secret and a default ServiceAccount that references it.
func watchSynced(b testing.TB, secret string, want int, only ...string) <-chan struct{} {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// One namespace named: watch only it, so that the watches start without the
	// thousands of existing objects a cluster-wide watch begins with.
	scope := ""
	if len(only) == 1 {
		scope = only[0]
	}
	opts := metav1.ListOptions{LabelSelector: v1alpha1.LabelClusterPullSecret + "=" + secret}
	sw, err := kube.CoreV1().Secrets(scope).Watch(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	aw, err := kube.CoreV1().ServiceAccounts(scope).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=default"})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer cancel()
		copies, refd := map[string]bool{}, map[string]bool{}
		count := func() int {
			c := 0
			for ns := range copies {
				if refd[ns] && (len(only) == 0 || slices.Contains(only, ns)) {
					c++
				}
			}
			return c
		}
		for {
			select {
			case e := <-sw.ResultChan():
				if s, ok := e.Object.(*corev1.Secret); ok && e.Type != watch.Deleted {
					copies[s.Namespace] = true
				}
			case e := <-aw.ResultChan():
				if sa, ok := e.Object.(*corev1.ServiceAccount); ok {
					refd[sa.Namespace] = slices.ContainsFunc(sa.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == secret })
				}
			}
			if count() >= want {
				close(done)
				return
			}
		}
	}()
	return done
}

// binary is regcred-controller running as its own process against the test API server.
type binary struct {
	cmd     *exec.Cmd
	metrics string
}

func startBinary(b testing.TB) *binary {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "regcred-controller")
	// The binary as the image ships it: static, so no C library is mapped.
	exe, err := images.ControllerBinary(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		b.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kc, server.Config); err != nil {
		b.Fatal(err)
	}
	ports := freePorts(b, 2)
	m := fmt.Sprintf("127.0.0.1:%d", ports[0])
	args := []string{"--kubeconfig", kc, "--leader-elect=false", "--metrics-bind-address", m,
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[1])}
	if pprof := os.Getenv("REGCRED_BENCH_PPROF"); pprof != "" {
		args = append(args, "--pprof-bind-address", pprof)
	}
	cmd := exec.Command(bin, args...)
	if os.Getenv("REGCRED_BENCH_PPROF") != "" {
		// Sample every 16 KiB allocated rather than every 512 KiB.
		cmd.Env = append(os.Environ(), "GODEBUG=memprofilerate=16384")
	}
	cmd.Stderr, _ = os.Create(filepath.Join(dir, "controller.log"))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	ctl := &binary{cmd: cmd, metrics: "http://" + m + "/metrics"}
	eventually(b, 30*time.Second, "controller metrics endpoint", func() error {
		r, err := http.Get(ctl.metrics)
		if err == nil {
			r.Body.Close()
		}
		return err
	})
	return ctl
}

func (c *binary) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	_ = c.cmd.Wait()
}

// metric sums every sample of a counter or gauge family.
func (c *binary) metric(b testing.TB, name string) float64 {
	b.Helper()
	r, err := http.Get(c.metrics)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			b.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// rssMiB reads a field of /proc/PID/status: VmRSS, or its parts RssAnon (the heap,
// stacks and runtime) and RssFile (pages of the executable).
func (c *binary) rssMiB(b testing.TB, field string) float64 {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, c.cmd.Process.Pid)
	return 0
}

func freePorts(b testing.TB, n int) []int {
	b.Helper()
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}
