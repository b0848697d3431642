package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/pullsecret"
)

// cpsClient installs the ClusterPullSecret CRD (again, if a test removed it) and
// returns a client that knows it.
func cpsClient(t testing.TB) client.Client {
	t.Helper()
	if err := server.InstallCRDs(); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(server.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newClusterPullSecret creates a ClusterPullSecret and gives it the status the
// controller would write (envtest runs no controller).
func newClusterPullSecret(t testing.TB, c client.Client, cps *v1alpha1.ClusterPullSecret, status v1alpha1.ClusterPullSecretStatus) *v1alpha1.ClusterPullSecret {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, cps); err != nil {
		t.Fatal(err)
	}
	status.ObservedGeneration = cps.Generation
	cps.Status = status
	if err := c.Status().Update(ctx, cps); err != nil {
		t.Fatal(err)
	}
	return cps
}

func conditions(readyStatus metav1.ConditionStatus, readyReason, readyMsg string, degradedStatus metav1.ConditionStatus, degradedReason, degradedMsg string) []metav1.Condition {
	var out []metav1.Condition
	apimeta.SetStatusCondition(&out, metav1.Condition{Type: v1alpha1.ConditionReady, Status: readyStatus, Reason: readyReason, Message: readyMsg})
	apimeta.SetStatusCondition(&out, metav1.Condition{Type: v1alpha1.ConditionDegraded, Status: degradedStatus, Reason: degradedReason, Message: degradedMsg})
	return out
}

// sourceSecret creates the source pull Secret and returns what its copies hold.
func sourceSecret(t testing.TB, ns, name string) *pullsecret.Content {
	t.Helper()
	data, err := dockercfg.Marshal(dockercfg.Server{Key: regs.Basic.Host, Credential: dockercfg.Credential{Username: "alice", Password: "status-secret-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
	if _, err := kube.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := pullsecret.ContentFrom(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeCopy creates the copy the controller would write.
func writeCopy(t *testing.T, cps *v1alpha1.ClusterPullSecret, ns string, c *pullsecret.Content) {
	t.Helper()
	if _, err := kube.CoreV1().Secrets(ns).Create(context.Background(), pullsecret.Copy(cps, ns, c), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// referenceCopy adds the copy to the namespace's default ServiceAccount as the
// controller does, recording it.
func referenceCopy(t *testing.T, cps *v1alpha1.ClusterPullSecret, ns string) {
	t.Helper()
	ctx := context.Background()
	sa, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change := pullsecret.Reference(sa, cps.Name, cps.TargetSecretName(), true)
	sa.ImagePullSecrets = change.ImagePullSecrets
	metav1.SetMetaDataAnnotation(&sa.ObjectMeta, v1alpha1.AnnotationAddedPullSecrets, change.Annotation)
	if _, err := kube.CoreV1().ServiceAccounts(ns).Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func labelNamespace(t *testing.T, ns string, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	n, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Labels = labels
	if _, err := kube.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// requestCounts are the kube-apiserver's request counts by verb and resource, from its
// metrics.
type requestCounts map[string]int

var requestTotal = regexp.MustCompile(`^apiserver_request_total\{(.*)\} (\d+)$`)
var metricLabel = regexp.MustCompile(`(\w+)="([^"]*)"`)

func apiRequests(t testing.TB) requestCounts {
	t.Helper()
	raw, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	counts := requestCounts{}
	for _, line := range strings.Split(string(raw), "\n") {
		m := requestTotal.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range metricLabel.FindAllStringSubmatch(m[1], -1) {
			labels[l[1]] = l[2]
		}
		n, _ := strconv.Atoi(m[2])
		counts[labels["verb"]+" "+labels["resource"]] += n
	}
	return counts
}

// since returns the counts that grew after before, leaving out the metrics scrapes
// and the API server's own reads of the kubernetes Service's endpoints (its
// reconciler runs every 10 seconds, whoever else is asking).
func (c requestCounts) since(before requestCounts) map[string]int {
	out := map[string]int{}
	for k, n := range c {
		if d := n - before[k]; d > 0 && k != "GET " && k != "GET endpoints" && k != "GET endpointslices" {
			out[k] = d
		}
	}
	return out
}

type row struct{ Namespace, State, Why string }

var columns = regexp.MustCompile(`\s{2,}`)

// statusRows reads the NAMESPACE STATE WHY table of `status NAME`.
func statusRows(t *testing.T, out string) []row {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nNAMESPACE")
	if !ok {
		t.Fatalf("no namespace table in:\n%s", out)
	}
	var rows []row
	for _, line := range strings.Split(table, "\n")[1:] {
		if line == "" {
			break
		}
		f := columns.Split(line, 3)
		if len(f) != 3 {
			t.Fatalf("row %q does not have three columns", line)
		}
		rows = append(rows, row{f[0], f[1], f[2]})
	}
	return rows
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	c := cpsClient(t)
	name := fmt.Sprintf("status-%d", nsCounter.Add(1))
	target := map[string]string{"regcred.dev/test": name}
	src := newNamespace(t, "st-src")
	content := sourceSecret(t, src, "pull")

	ns := map[string]string{}
	for _, state := range []string{"synced", "stale", "unreferenced", "conflict", "failed", "missing", "orphan", "excluded"} {
		ns[state] = newNamespace(t, "st-"+state)
		if state != "orphan" {
			labelNamespace(t, ns[state], target)
		}
	}
	failure := fmt.Sprintf(`create secret %s/regcred: secrets "regcred" is forbidden: exceeded quota: secrets`, ns["failed"])
	cps := newClusterPullSecret(t, c, &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source:            v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: src, Name: "pull"}},
			SecretName:        "regcred",
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: target},
			ExcludeNamespaces: []string{ns["excluded"]},
		},
	}, v1alpha1.ClusterPullSecretStatus{
		Conditions: conditions(metav1.ConditionFalse, v1alpha1.ReasonConflicts, "1 namespace holds a Secret regcred that regcred did not make",
			metav1.ConditionTrue, v1alpha1.ReasonFailures, "1 namespace failed"),
		Namespaces: v1alpha1.NamespaceCounts{Targeted: 6, Synced: 1, Conflict: 1, Failed: 1},
		NotSynced: []v1alpha1.NamespaceStatus{
			{Namespace: ns["conflict"], State: v1alpha1.NamespaceConflict, Message: "not regcred's"},
			{Namespace: ns["failed"], State: v1alpha1.NamespaceFailed, Message: failure},
		},
		SourceHash: content.Hash,
	})

	// synced: an up-to-date copy, referenced.
	writeCopy(t, cps, ns["synced"], content)
	referenceCopy(t, cps, ns["synced"])
	// stale: a copy of what the source held before.
	old := []byte(`{"auths":{"old.example.com":{"auth":"` + dockercfg.EncodeAuth("old", "old") + `"}}}`)
	sum := sha256.Sum256(old)
	oldHash := hex.EncodeToString(sum[:])
	writeCopy(t, cps, ns["stale"], &pullsecret.Content{DockerConfigJSON: old, Hash: oldHash, Source: content.Source})
	referenceCopy(t, cps, ns["stale"])
	// unreferenced: an up-to-date copy the default ServiceAccount lacks.
	writeCopy(t, cps, ns["unreferenced"], content)
	// conflict: someone's own Secret of that name.
	pullSecretFor(t, ns["conflict"], "regcred")
	// orphan: the namespace lost its label; excluded: named in excludeNamespaces.
	writeCopy(t, cps, ns["orphan"], content)
	referenceCopy(t, cps, ns["orphan"])
	writeCopy(t, cps, ns["excluded"], content)

	before := apiRequests(t)
	out, errOut, code := runCmd(t, "status", name)
	if want := fmt.Sprintf("error: ClusterPullSecret %s: 5 targeted namespaces not synced, 2 being cleaned up\n", name); code != 1 || errOut != want {
		t.Errorf("status %s: exit %d, %q; want 1, %q", name, code, errOut, want)
	}
	// A fixed number of requests whatever the number of namespaces: one list each of
	// namespaces and serviceaccounts, two of secrets (by label, by name), one get.
	wantRequests := map[string]int{"GET clusterpullsecrets": 1, "LIST namespaces": 1, "LIST secrets": 2, "LIST serviceaccounts": 1}
	if diff := cmp.Diff(wantRequests, apiRequests(t).since(before)); diff != "" {
		t.Errorf("status %s made other API requests (-want +got):\n%s", name, diff)
	}
	want := []row{
		{ns["synced"], "Synced", "copy up to date, referenced by ServiceAccount default"},
		{ns["stale"], "Pending", fmt.Sprintf("copy is stale: its content-hash is %s, the source's %s", oldHash[:12], content.Hash[:12])},
		{ns["unreferenced"], "Pending", "ServiceAccount default does not reference regcred yet"},
		{ns["conflict"], "Conflict", "Secret regcred here was not made by regcred, which leaves it alone: delete or rename it, or set spec.secretName"},
		{ns["failed"], "Failed", failure},
		{ns["missing"], "Pending", "no copy of Secret regcred yet"},
	}
	slices.SortFunc(want, func(a, b row) int { return strings.Compare(a.Namespace, b.Namespace) })
	cleanup := []row{
		{ns["orphan"], "CleaningUp", "no longer targeted (its labels do not match spec.namespaceSelector); still there: copy regcred, reference to regcred in ServiceAccount default"},
		{ns["excluded"], "CleaningUp", "no longer targeted (in spec.excludeNamespaces); still there: copy regcred"},
	}
	slices.SortFunc(cleanup, func(a, b row) int { return strings.Compare(a.Namespace, b.Namespace) })
	if diff := cmp.Diff(append(want, cleanup...), statusRows(t, out)); diff != "" {
		t.Errorf("status %s rows (-want +got):\n%s\n%s", name, diff, out)
	}
	wantLines(t, "status "+name, out,
		fmt.Sprintf("ClusterPullSecret %s: Secret regcred from %s/pull, for ServiceAccounts default\n", name, src),
		"Ready     False  Conflicts  1 namespace holds a Secret regcred that regcred did not make\n",
		"Degraded  True   Failures   1 namespace failed\n",
		"Controller's count: 6 targeted, 1 synced, 1 conflict, 1 failed\n",
		"6 namespaces targeted: 1 synced, 3 pending, 1 conflict, 1 failed; 2 being cleaned up\n",
	)
	if strings.Contains(out, "status-secret-pw") || strings.Contains(out, dockercfg.EncodeAuth("alice", "status-secret-pw")) {
		t.Errorf("status prints Secret data:\n%s", out)
	}
	t.Logf("kubectl regcred status %s\n%s", name, out)

	// -o json carries the same rows.
	out, _, code = runCmd(t, "status", name, "-o", "json")
	var st struct {
		Name            string
		Degraded        struct{ Status, Reason string }
		NamespaceStates []struct{ Namespace, State, Message string }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 1 || st.Name != name || st.Degraded.Reason != "Failures" || len(st.NamespaceStates) != 8 {
		t.Errorf("status -o json: exit %d, %v\n%s", code, err, out)
	}

	// Once every namespace is synced and nothing is left over, exit 0; Degraded
	// alone still exits 1.
	fixed := fmt.Sprintf("status-%d", nsCounter.Add(1))
	only := newNamespace(t, "st-ok")
	labelNamespace(t, only, map[string]string{"regcred.dev/test": fixed})
	ok := newClusterPullSecret(t, c, &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: fixed},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source:            v1alpha1.Source{SecretRef: &v1alpha1.SecretReference{Namespace: src, Name: "pull"}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"regcred.dev/test": fixed}},
			ServiceAccounts:   []string{"*"},
		},
	}, v1alpha1.ClusterPullSecretStatus{
		Conditions: conditions(metav1.ConditionTrue, v1alpha1.ReasonSynced, "every targeted namespace is synced", metav1.ConditionFalse, v1alpha1.ReasonSourceHealthy, "the source is a usable pull Secret"),
		Namespaces: v1alpha1.NamespaceCounts{Targeted: 1, Synced: 1},
		SourceHash: content.Hash,
	})
	writeCopy(t, ok, only, content)
	referenceCopy(t, ok, only)
	newServiceAccount(t, only, "builder", fixed)
	out, errOut, code = runCmd(t, "status", fixed)
	wantOK := []row{{only, "Synced", "copy up to date, referenced by ServiceAccounts builder, default"}}
	if diff := cmp.Diff(wantOK, statusRows(t, out)); code != 0 || diff != "" {
		t.Errorf("status of a synced ClusterPullSecret: exit %d, %s (-want +got):\n%s\n%s", code, errOut, diff, out)
	}
	t.Logf("kubectl regcred status %s\n%s", fixed, out)
	ok.Status.Conditions = conditions(metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound, "source Secret not found", metav1.ConditionTrue, v1alpha1.ReasonSourceNotFound, fmt.Sprintf("secret %s/pull not found", src))
	if err := c.Status().Update(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCmd(t, "status", fixed); code != 1 || !strings.Contains(errOut, "is Degraded: SourceNotFound") {
		t.Errorf("status of a Degraded ClusterPullSecret: exit %d, %q; want 1", code, errOut)
	}

	// Without a name: one line each.
	out, _, code = runCmd(t, "status")
	if code != 1 {
		t.Errorf("status: exit %d, want 1", code)
	}
	for _, w := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^NAME\s+SOURCE\s+SECRET\s+READY\s+DEGRADED\s+TARGETED\s+SYNCED\s+CONFLICT\s+FAILED$`),
		regexp.MustCompile(`(?m)^` + name + `\s+` + src + `/pull\s+regcred\s+False \(Conflicts\)\s+True \(Failures\)\s+6\s+1\s+1\s+1$`),
		regexp.MustCompile(`(?m)^` + fixed + `\s+` + src + `/pull\s+` + fixed + `\s+False \(SourceNotFound\)\s+True \(SourceNotFound\)\s+1\s+1\s+0\s+0$`),
	} {
		if !w.MatchString(out) {
			t.Errorf("status lacks a line matching %s:\n%s", w, out)
		}
	}
	t.Logf("kubectl regcred status\n%s", out)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "No_Such"}, `ClusterPullSecret name "No_Such"`},
		{[]string{"status", "-o", "wide"}, `--output "wide"`},
		{[]string{"status", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"status", "no-such-cps"}, `clusterpullsecrets.regcred.dev "no-such-cps" not found`},
	} {
		if _, errOut, code := runCmd(t, tt.args...); code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestStatusWithoutCRD: without the ClusterPullSecret API, one line says what to install.
func TestStatusWithoutCRD(t *testing.T) {
	ctx := context.Background()
	c := cpsClient(t)
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	crd.SetName("clusterpullsecrets.regcred.dev")
	if err := c.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cpsClient(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd)
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CRD is still there after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	const want = "error: the regcred controller is not installed (no ClusterPullSecret API in this cluster): install it with helm install regcred charts/regcred\n"
	for _, args := range [][]string{{"status"}, {"status", "team"}} {
		out, errOut, code := runCmd(t, args...)
		if code != 2 || errOut != want || out != "" {
			t.Errorf("%v without the CRD: exit %d, stdout %q, stderr %q; want 2 and %q", args, code, out, errOut, want)
		}
	}
}

// wantLines reports each line that the output of what lacks.
func wantLines(t *testing.T, what, out string, lines ...string) {
	t.Helper()
	for _, w := range lines {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// TestStatusPluginStuckPods: status shows a plugin source, its credential's times (a
// warning once it expired), the AdmissionInjection condition and the stuck pods, and
// stuck pods alone make it exit 1.
func TestStatusPluginStuckPods(t *testing.T) {
	c := cpsClient(t)
	name := fmt.Sprintf("status-%d", nsCounter.Add(1))
	minted := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	expires := metav1.NewTime(minted.Add(time.Hour))
	conds := conditions(metav1.ConditionTrue, v1alpha1.ReasonSynced, "every targeted namespace is synced", metav1.ConditionFalse, v1alpha1.ReasonSourceHealthy, "the plugin returns a credential")
	apimeta.SetStatusCondition(&conds, metav1.Condition{Type: v1alpha1.ConditionInjection, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonPolicyReady, Message: "new pods get the copy"})
	newClusterPullSecret(t, c, &v1alpha1.ClusterPullSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterPullSecretSpec{
			Source:            v1alpha1.Source{CredentialProvider: &v1alpha1.CredentialProviderSource{Name: "ecr-credential-provider", Image: "*.dkr.ecr.*.amazonaws.com"}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"regcred.dev/test": name}},
		},
	}, v1alpha1.ClusterPullSecretStatus{
		Conditions: conds,
		Credential: &v1alpha1.CredentialStatus{MintedAt: &minted, ExpiresAt: &expires},
		StuckPods:  &v1alpha1.StuckPods{Count: 3, Pods: []string{"team-a/bare", "team-b/bare"}},
	})

	out, errOut, code := runCmd(t, "status", name)
	if want := fmt.Sprintf("error: ClusterPullSecret %s: 3 pods fail for want of the copy and are not evicted: recreate them\n", name); code != 1 || errOut != want {
		t.Errorf("status %s: exit %d, %q; want 1, %q", name, code, errOut, want)
	}
	wantLines(t, "status "+name, out,
		fmt.Sprintf("ClusterPullSecret %s: Secret %s from plugin ecr-credential-provider, for ServiceAccounts default\n", name, name),
		"AdmissionInjection  True   PolicyReady    new pods get the copy\n",
		"Credential: minted 2026-01-02T03:04:05Z, expires 2026-01-02T04:04:05Z\n",
		"Stuck pods, not evicted (no controller recreates them, or their replacement lacked the copy too): team-a/bare, team-b/bare and 1 more\n",
		"warning: the credential the plugin minted expired at 2026-01-02T04:04:05Z: the copies hold it until a refresh succeeds, and pulls with it fail\n",
	)
	t.Logf("kubectl regcred status %s\n%s", name, out)

	out, _, code = runCmd(t, "status", name, "-o", "json")
	var st struct {
		Source             string
		AdmissionInjection struct{ Status, Reason string }
		Credential         struct{ MintedAt, ExpiresAt time.Time }
		StuckPods          struct {
			Count int
			Pods  []string
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 1 || st.Source != "plugin ecr-credential-provider" ||
		st.AdmissionInjection.Reason != v1alpha1.ReasonPolicyReady || !st.Credential.ExpiresAt.Equal(expires.Time) ||
		st.StuckPods.Count != 3 || len(st.StuckPods.Pods) != 2 {
		t.Errorf("status -o json: exit %d, %v\n%s", code, err, out)
	}

	// In the list, the plugin is the source.
	out, _, _ = runCmd(t, "status")
	if w := regexp.MustCompile(`(?m)^` + name + `\s+plugin ecr-credential-provider\s+` + name + `\s+True \(Synced\)`); !w.MatchString(out) {
		t.Errorf("status lacks a line matching %s:\n%s", w, out)
	}
}
