package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// failingPod creates a pod and gives it the status the kubelet gives a pod whose pull
// was refused. (The real kubelet's statuses are the e2e suite's; here they only drive
// the command's plumbing.)
func failingPod(t *testing.T, ns, name, image, message string, pullSecrets ...string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
	for _, s := range pullSecrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodPending
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: image, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: message}}}}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDoctorExitCodesAndTargets(t *testing.T) {
	ns := newNamespace(t, "doctor")
	image := regs.Basic.Ref("team/app:v1")
	msg := `Back-off pulling image "` + image + `": ErrImagePull: failed to pull and unpack image: pulling from host ` + regs.Basic.Host + ` failed with status code [manifests v1]: 401 Unauthorized`
	failingPod(t, ns, "broken", image, msg, "missing-secret")

	out, errOut, code := runCmd(t, "doctor", "-n", ns, "-o", "json")
	if code != 1 {
		t.Fatalf("doctor on a failing pod: exit %d, %q", code, errOut)
	}
	var rep struct {
		Findings []struct{ Code, Severity, Pod string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) != 1 || rep.Findings[0].Code != "SecretNotFound" {
		t.Errorf("doctor -o json = %s", out)
	}

	healthy := newNamespace(t, "doctor-ok")
	out, errOut, code = runCmd(t, "doctor", "-n", healthy)
	if code != 0 || !strings.Contains(out, "0 pods checked") {
		t.Errorf("doctor on an empty namespace: exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, "doctor", "pod/broken", "-n", healthy); code != 2 || !strings.Contains(errOut, "pod broken not found in namespace "+healthy) {
		t.Errorf("doctor pod/NAME that does not exist: exit %d, %q; want 2", code, errOut)
	}
	if out, _, code := runCmd(t, "doctor", "pod/broken", "-n", ns, "--offline"); code != 1 || !strings.Contains(out, "SecretNotFound") {
		t.Errorf("doctor pod/broken --offline: exit %d, %s", code, out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "-o", "wide"}, `--output "wide": doctor prints json or yaml`},
		{[]string{"doctor", "job/x"}, `target "job/x"`},
		{[]string{"doctor", "-A", "pod/x"}, "without names"},
		{[]string{"doctor", "deploy/nope", "-n", ns}, "get deployment"},
	} {
		if _, errOut, code := runCmd(t, tt.args...); code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestDoctorWithoutSecretAccess: a user who may not read Secrets still gets the
// kubelet's cause and is told which checks could not run; Secrets not read prove
// nothing about credentials: a pod with no pull Secret sent none, and one whose
// Secrets were not read may have sent one.
func TestDoctorWithoutSecretAccess(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "doctor-rbac")
	image := regs.Basic.Ref("team/app:v1")
	refused := `failed to pull and unpack image "` + image + `": pulling from host failed with status code [manifests v1]: 401 Unauthorized`
	failingPod(t, ns, "broken", image, refused)
	failingPod(t, ns, "referencing", image, refused, "regcred")
	createSecret(t, ns, "regcred", corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"` + regs.Basic.Host + `":{"username":"alice","password":"` + alicePassword() + `"}}}`})
	node := "rbac-" + ns
	newNode(t, node, localAddress(t))
	podOn(t, ns, "running", node, image, true, "regcred")
	nodeReader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "node-reader-" + ns}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}}}}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, nodeReader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: nodeReader.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: nodeReader.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "viewer", APIGroup: "rbac.authorization.k8s.io"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: ns}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "serviceaccounts", "events"}, Verbs: []string{"get", "list"}}}}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: ns}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "viewer"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "viewer", APIGroup: "rbac.authorization.k8s.io"}}}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.User("viewer")
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["viewer"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "viewer", Namespace: ns}
	kc.CurrentContext = "c"
	path := t.TempDir() + "/viewer.kubeconfig"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--offline"}, {}} {
		out, errOut, code := runCmd(t, append([]string{"--kubeconfig", path, "doctor", "-o", "json"}, args...)...)
		var rep struct{ Findings []doctorFinding }
		if err := json.Unmarshal([]byte(out), &rep); code != 1 || err != nil {
			t.Fatalf("doctor %v without secret access: exit %d, %v\n%s%s", args, code, err, out, errOut)
		}
		got := map[string]doctorFinding{}
		for _, f := range rep.Findings {
			got[f.Pod] = f
		}
		if f := got["broken"]; f.Code != "NoMatchingCredential" || !strings.Contains(f.Message, "no pull Secret") {
			t.Errorf("doctor %v: pod with no pull Secret: %+v; nothing was sent, so nothing was rejected", args, f)
		}
		if f := got["referencing"]; f.Code != "PullFailed" || !strings.Contains(f.Message, "could not be read") {
			t.Errorf("doctor %v: pod whose Secret was not read: %+v; which credential was sent is unknown", args, f)
		}
		if f, ok := got["running"]; ok {
			t.Errorf("doctor %v: running pod whose Secret was not read: %+v; that Secret may well have the credential", args, f)
		}
		if f := got[""]; f.Code != "ChecksSkipped" || !strings.Contains(f.Message, "could not be read") {
			t.Errorf("doctor %v: %+v; want ChecksSkipped", args, rep.Findings)
		}
	}
}

// TestDoctorWorkloadWithoutPods checks a Deployment's template when it has no pod
// (envtest runs no controllers, so none is ever made).
func TestDoctorWorkloadWithoutPods(t *testing.T) {
	ns := newNamespace(t, "doctor-template")
	newDeploymentWithPod(t, ns, "web", []string{"absent"})
	if err := kube.CoreV1().Pods(ns).Delete(context.Background(), "web-1-abc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCmd(t, "doctor", "deploy/web", "-n", ns, "--offline")
	if code != 1 || !strings.Contains(out, "SecretNotFound") || !strings.Contains(out, ns+"/Deployment/web") {
		t.Errorf("doctor deploy/web without pods: exit %d\n%s%s", code, out, errOut)
	}
}
