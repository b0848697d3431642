package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

type doctorFinding struct {
	Code, Severity, Pod, Image, Message, Evidence string
	Fix                                           []string
	NodeProbe                                     bool
}

func doctorJSON(t *testing.T, args ...string) []doctorFinding {
	t.Helper()
	out, errOut, code := runCmd(t, append(args, "-o", "json")...)
	if code == 2 {
		t.Fatalf("doctor %v: %s", args, errOut)
	}
	var rep struct{ Findings []doctorFinding }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, out)
	}
	return rep.Findings
}

func refs(names ...string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

// ownedFailingPod makes a pod controlled by owner (apps/v1 kind), with the pull Secret
// list given, and the status the kubelet gives a refused pull.
func ownedFailingPod(t *testing.T, ns, name, image string, labels map[string]string, owner metav1.OwnerReference, list []corev1.LocalObjectReference) {
	t.Helper()
	ctx := context.Background()
	yes := true
	owner.Controller = &yes
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}, ImagePullSecrets: list}}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodPending
	msg := `failed to pull and unpack image "` + image + `": failed to resolve reference: pulling from host failed with status code [manifests v1]: 401 Unauthorized`
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: msg}}}}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deploymentPod makes Deployment web whose template has the list tmpl, its ReplicaSet,
// and a failing pod of it with the list pod (what admission gave it).
func deploymentPod(t *testing.T, ns, image string, tmpl, pod []corev1.LocalObjectReference) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "web", "pod-template-hash": "5c87c6d74c"}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}, ImagePullSecrets: tmpl}
	d, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: spec}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	rs, err := kube.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5c87c6d74c", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ownedFailingPod(t, ns, "web-5c87c6d74c-lmwcj", image, labels, metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID}, pod)
}

func statefulSetPod(t *testing.T, ns, image string, tmpl, pod []corev1.LocalObjectReference) {
	t.Helper()
	labels := map[string]string{"app": "db"}
	s, err := kube.AppsV1().StatefulSets(ns).Create(context.Background(), &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}, ImagePullSecrets: tmpl}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ownedFailingPod(t, ns, "db-0", image, labels, metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: s.Name, UID: s.UID}, pod)
}

// TestDoctorFixFollowsTheListsOrigin: a pod's imagePullSecrets either came from its
// ServiceAccount (admission copied them: its template has none) or from its template.
// The pod alone cannot tell; the fix must follow the template: a restart for the first,
// a template edit keeping every entry for the second.
func TestDoctorFixFollowsTheListsOrigin(t *testing.T) {
	image := regs.Basic.Ref("team/app:v1")
	tests := []struct {
		name     string
		saList   []string
		make     func(t *testing.T, ns string)
		code     string
		want     []string
		notWant  string
		template []string // the Deployment's list after the printed patch, when one is printed
	}{
		{name: "list copied from the ServiceAccount before the Secret was added", saList: []string{"other", "regcred"},
			make: func(t *testing.T, ns string) { deploymentPod(t, ns, image, nil, refs("other")) },
			code: "ServiceAccountSecretsNotApplied", want: []string{"kubectl rollout restart deployment/web -n %s"}, notWant: "imagePullSecrets in the pod template"},
		{name: "template sets its own list", saList: []string{"regcred"},
			make: func(t *testing.T, ns string) { deploymentPod(t, ns, image, refs("other"), refs("other")) },
			code: "ServiceAccountSecretsNotApplied", want: []string{`kubectl patch deployment web -n %s --type json -p '[{"op":"add","path":"/spec/template/spec/imagePullSecrets/-","value":{"name":"regcred"}}]'   # appends to the template's own imagePullSecrets, keeping other`},
			notWant: "rollout restart", template: []string{"other", "regcred"}},
		{name: "no Secret for the registry, list copied from the ServiceAccount", saList: []string{"other"},
			make: func(t *testing.T, ns string) { deploymentPod(t, ns, image, nil, refs("other")) },
			code: "NoMatchingCredential", want: []string{"kubectl regcred attach regcred -n %s --serviceaccount default --restart"}, notWant: "imagePullSecrets in the pod template"},
		{name: "no Secret for the registry, template sets its own list", saList: nil,
			make: func(t *testing.T, ns string) { deploymentPod(t, ns, image, refs("other"), refs("other")) },
			code: "NoMatchingCredential", want: []string{`kubectl patch deployment web -n %s --type json`}, notWant: "attach", template: []string{"other", "regcred"}},
		{name: "StatefulSet whose rollout waits for the failing pod", saList: []string{"other", "regcred"},
			make: func(t *testing.T, ns string) { statefulSetPod(t, ns, image, nil, refs("other")) },
			code: "ServiceAccountSecretsNotApplied", want: []string{"kubectl rollout restart statefulset/db -n %s", "kubectl delete pod db-0 -n %s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t, "fixorigin")
			createSecret(t, ns, "other", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"other.registry.test":{"username":"u","password":"p"}}}`})
			if tt.code != "NoMatchingCredential" {
				createSecret(t, ns, "regcred", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"` + regs.Basic.Host + `":{"username":"alice","password":"pw"}}}`})
			}
			sa, err := kube.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sa.ImagePullSecrets = refs(tt.saList...)
			if _, err := kube.CoreV1().ServiceAccounts(ns).Update(context.Background(), sa, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			tt.make(t, ns)
			findings := doctorJSON(t, "doctor", "-n", ns, "--offline")
			if len(findings) != 1 || findings[0].Code != tt.code {
				t.Fatalf("findings = %+v, want one %s", findings, tt.code)
			}
			fix := strings.Join(findings[0].Fix, "\n")
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "%s", ns); !strings.Contains(fix, w) {
					t.Errorf("fix lacks %q:\n%s", w, fix)
				}
			}
			if tt.notWant != "" && strings.Contains(fix, tt.notWant) {
				t.Errorf("fix has %q:\n%s", tt.notWant, fix)
			}
			if tt.template == nil {
				return
			}
			// Apply the printed patch as printed: the template keeps its entries.
			for _, line := range findings[0].Fix {
				if !strings.HasPrefix(line, "kubectl patch deployment web") {
					continue
				}
				line, _, _ = strings.Cut(line, "   #")
				_, patch, _ := strings.Cut(line, " -p '")
				if _, err := kube.AppsV1().Deployments(ns).Patch(context.Background(), "web", types.JSONPatchType, []byte(strings.TrimSuffix(patch, "'")), metav1.PatchOptions{}); err != nil {
					t.Fatalf("printed patch %q: %v", line, err)
				}
			}
			d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range d.Spec.Template.Spec.ImagePullSecrets {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.template, ",") {
				t.Errorf("template list after the printed fix = %v, want %v", got, tt.template)
			}
		})
	}
}

// localAddress is an address of this machine other than loopback.
func localAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no address but loopback: a node here cannot be told from one elsewhere")
	return ""
}

func newNode(t *testing.T, name, address string) {
	t.Helper()
	ctx := context.Background()
	n, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: address}}
	if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// podOn makes a pod on a node, failing with a refused pull or running.
func podOn(t *testing.T, ns, name, node, image string, running bool, secrets ...string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: image}}, ImagePullSecrets: refs(secrets...)}}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ContainerStatus{Name: "app", Image: image}
	if running {
		created.Status.Phase = corev1.PodRunning
		st.State.Running = &corev1.ContainerStateRunning{}
	} else {
		created.Status.Phase = corev1.PodPending
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `failed to pull and unpack image "` + image + `": pulling from host failed with status code [manifests v1]: 401 Unauthorized`}
	}
	created.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestDoctorLoopbackRegistry: 127.0.0.1:PORT and localhost:PORT are the node's own
// loopback. From this machine the real registry answers on them, but for a node
// elsewhere that answer is another host's: doctor must not give it as the registry's,
// and says that --probe-node is needed. For a node that is this machine, it probes.
func TestDoctorLoopbackRegistry(t *testing.T) {
	ns := newNamespace(t, "loopback")
	suffix := strings.TrimPrefix(ns, "loopback-")
	far, here := "far-"+suffix, "here-"+suffix
	newNode(t, far, "192.0.2.10")
	newNode(t, here, localAddress(t))
	createSecret(t, ns, "regcred", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": fmt.Sprintf(`{"auths":{%q:{"username":"alice","password":"wrong"},%q:{"username":"alice","password":"wrong"}}}`,
		regs.Basic.Host, strings.Replace(regs.Basic.Host, "127.0.0.1", "localhost", 1))})
	image := regs.Basic.Ref("team/app:v1")
	podOn(t, ns, "far-failing", far, image, false, "regcred")
	podOn(t, ns, "here-failing", here, image, false, "regcred")
	podOn(t, ns, "far-running", far, strings.Replace(image, "127.0.0.1", "localhost", 1), true, "regcred")

	findings := doctorJSON(t, "doctor", "-n", ns)
	byPod := map[string]doctorFinding{}
	for _, f := range findings {
		byPod[f.Pod] = f
	}
	if f := byPod["far-failing"]; f.Code != "CredentialRejected" || strings.Contains(f.Evidence, "registry: CredentialRejected") || !strings.Contains(f.Evidence, "not probed from here") || !strings.Contains(f.Evidence, "--probe-node") || !f.NodeProbe {
		t.Errorf("pod on a node elsewhere: %+v; want the kubelet's cause, no registry answer from here, and --probe-node named", f)
	}
	if f := byPod["here-failing"]; f.Code != "CredentialRejected" || !strings.Contains(f.Evidence, "registry: CredentialRejected") || f.NodeProbe {
		t.Errorf("pod on this machine: %+v; want the registry's answer", f)
	}
	if f, ok := byPod["far-running"]; ok {
		t.Errorf("running pod on a node elsewhere got %+v; its registry was not probed", f)
	}
	if f := byPod[""]; f.Code != "ChecksSkipped" || f.Severity != "info" || !strings.Contains(f.Message, strings.Replace(regs.Basic.Host, "127.0.0.1", "localhost", 1)) {
		t.Errorf("the unchecked running containers are not said: %+v", findings)
	}
}

// TestDoctorPrintedKeysMatchImages: every key a printed fix writes (kubectl regcred
// create --server S writes dockercfg.KeyFor(S)) is one the kubelet matches to the
// image, as written or as the fix says to write it.
func TestDoctorPrintedKeysMatchImages(t *testing.T) {
	ns := newNamespace(t, "keys")
	createSecret(t, ns, "hubkey", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}`})
	createSecret(t, ns, "r1key", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"registry-1.docker.io":{"username":"u","password":"p"}}}`})
	createSecret(t, ns, "emptyr1", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"registry-1.docker.io":{}}}`})
	createSecret(t, ns, "opaque", corev1.SecretTypeOpaque, map[string]string{".dockerconfigjson": `{"auths":{"registry-1.docker.io":{"username":"u","password":"p"}}}`})
	images := []string{regs.Basic.Ref("team/app:v1"), "registry-1.docker.io/myorg/app:1", "registry.hub.docker.com/myorg/app:1", "nginx:1", "index.docker.io/myorg/app:1",
		"localhost:5000/team/app:1", "[::1]:5000/team/app:1", "reg.example.com:5000/team/app:1", "reg.example.com/team/app@sha256:" + strings.Repeat("0", 64)}
	for i, image := range images {
		for j, secrets := range [][]string{nil, {"missing"}, {"hubkey"}, {"r1key"}, {"emptyr1"}, {"opaque"}} {
			podOn(t, ns, fmt.Sprintf("p%d-%d", i, j), "", image, false, secrets...)
		}
	}
	findings := doctorJSON(t, "doctor", "-n", ns, "--offline")
	writes := regexp.MustCompile(`kubectl regcred create \S+ .*--server (\S+)`)
	rewrite := regexp.MustCompile(`^write the image as (\S+) instead of`)
	checked := 0
	for _, f := range findings {
		image := f.Image
		for _, line := range f.Fix {
			if m := rewrite.FindStringSubmatch(line); m != nil {
				image = m[1]
			}
		}
		for _, line := range f.Fix {
			m := writes.FindStringSubmatch(line)
			if m == nil || m[1] == "REGISTRY" || strings.Contains(line, "-n SOURCE_NAMESPACE") {
				continue
			}
			checked++
			k, err := dockercfg.KeyFor(m[1])
			if err != nil {
				t.Errorf("pod %s (%s): fix %q: --server %s is refused: %v", f.Pod, f.Image, line, m[1], err)
				continue
			}
			res, err := keyring.Lookup(image, []keyring.Entry{{Key: k}})
			if err != nil || len(res.Matches) == 0 {
				t.Errorf("pod %s: fix %q writes key %q, which the kubelet does not match to %s", f.Pod, line, k, image)
			}
		}
	}
	if checked < len(images) {
		t.Errorf("only %d fixes write a key; want at least one per image (%d)", checked, len(images))
	}
}
