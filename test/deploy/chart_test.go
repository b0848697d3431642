package deploy_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/regcred/regcred/test/deploy"
)

// The chart ships the CRDs of config/crd/bases unchanged (make generate copies them).
func TestChartCRDsAreConfigCRDs(t *testing.T) {
	config := filepath.Join(deploy.ConfigDir(), "crd", "bases")
	chart := filepath.Join(deploy.ChartDir(), "crds")
	list := func(dir string) []string {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			files[i] = filepath.Base(f)
		}
		return files
	}
	want, got := list(config), list(chart)
	if len(want) == 0 {
		t.Fatalf("no CRDs in %s", config)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("CRD files: %s has %q, %s has %q: run make generate", chart, got, config, want)
	}
	for _, name := range want {
		a, err := os.ReadFile(filepath.Join(config, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(chart, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("charts/regcred/crds/%s differs from config/crd/bases/%s: run make generate", name, name)
		}
	}
}

func TestChartLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"defaults", nil},
		{"api server set", []string{"apiServer.host=10.245.0.1", "apiServer.port=6443"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"lint", "--strict", deploy.ChartDir()}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			if out, err := deploy.Helm(context.Background(), args...); err != nil {
				t.Errorf("%v\n%s", err, out)
			}
		})
	}
}

func TestChartDefaults(t *testing.T) {
	objs := chart(t)
	want := []string{
		"ClusterRole /regcred-controller",
		"ClusterRoleBinding /regcred-controller",
		"CustomResourceDefinition /clusterpullsecrets.regcred.dev",
		"Deployment regcred-system/regcred-controller",
		"PodDisruptionBudget regcred-system/regcred-controller",
		"Role regcred-system/regcred-controller-leader-election",
		"RoleBinding regcred-system/regcred-controller-leader-election",
		"Service regcred-system/regcred-controller-metrics",
		"ServiceAccount regcred-system/regcred-controller",
	}
	if diff := cmp.Diff(want, names(objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}

	d := deployment(t, objs)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "regcred-controller" || !ptr.Deref(pod.AutomountServiceAccountToken, false) {
		t.Errorf("serviceAccountName %q, automountServiceAccountToken %v: want regcred-controller, true", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	wantPodSec := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		RunAsGroup:     ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantPodSec, pod.SecurityContext); diff != "" {
		t.Errorf("pod securityContext (-want +got):\n%s", diff)
	}
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" ||
		!selects(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("affinity = %+v, want preferred pod anti-affinity by hostname against its own pods", a)
	}

	c := controller(t, d)
	if c.Image != "regcred-controller:0.1.0" {
		t.Errorf("image = %q, want regcred-controller:<appVersion>", c.Image)
	}
	wantArgs := []string{"--leader-elect=true", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--zap-log-level=info"}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	wantEnv := []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("env (-want +got), no KUBERNETES_SERVICE_HOST unless apiServer is set:\n%s", diff)
	}
	wantSec := &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](65532),
		RunAsGroup:               ptr.To[int64](65532),
		ReadOnlyRootFilesystem:   ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantSec, c.SecurityContext); diff != "" {
		t.Errorf("container securityContext (-want +got):\n%s", diff)
	}
	wantRes := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	if !equality(wantRes, c.Resources) {
		t.Errorf("resources = %+v, want %+v", c.Resources, wantRes)
	}
	probe := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return "none"
		}
		return p.HTTPGet.Path + " on " + p.HTTPGet.Port.String()
	}
	if l, r := probe(c.LivenessProbe), probe(c.ReadinessProbe); l != "/healthz on health" || r != "/readyz on health" {
		t.Errorf("liveness %s, readiness %s: want /healthz and /readyz on health", l, r)
	}
	wantPorts := []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8080, Protocol: "TCP"}, {Name: "health", ContainerPort: 8081, Protocol: "TCP"}}
	if diff := cmp.Diff(wantPorts, c.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}

	pdb := as[policyv1.PodDisruptionBudget](t, find(t, objs, "PodDisruptionBudget"))
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) || !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget spec = %+v, want minAvailable 1 over the controller's pods", pdb.Spec)
	}
	svc := as[corev1.Service](t, find(t, objs, "Service"))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") || !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("metrics Service spec = %+v, want port 8080 to the pods' metrics port", svc.Spec)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		subjects := as[rbacv1.RoleBinding](t, find(t, objs, kind)).Subjects
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "regcred-controller", Namespace: "regcred-system"}}
		if diff := cmp.Diff(want, subjects); diff != "" {
			t.Errorf("%s subjects (-want +got):\n%s", kind, diff)
		}
	}
	for _, o := range objs {
		l := o.GetLabels()
		if o.GetKind() != "CustomResourceDefinition" && (l["app.kubernetes.io/name"] != "regcred" || l["app.kubernetes.io/instance"] != "regcred" ||
			l["app.kubernetes.io/version"] != "0.1.0" || l["app.kubernetes.io/managed-by"] != "Helm") {
			t.Errorf("%s %s labels = %v, want the standard app.kubernetes.io labels", o.GetKind(), o.GetName(), l)
		}
	}
}

// The chart and config/default grant the same rules and run the same container.
func TestChartMatchesKustomize(t *testing.T) {
	h, k := chart(t), kustomized(t)
	for _, kind := range []string{"ClusterRole", "Role"} {
		if diff := cmp.Diff(rules(t, k, kind), rules(t, h, kind)); diff != "" {
			t.Errorf("%s rules, config/rbac (-) against the chart (+):\n%s", kind, diff)
		}
	}
	if diff := cmp.Diff(find(t, k, "CustomResourceDefinition").Object, find(t, h, "CustomResourceDefinition").Object); diff != "" {
		t.Errorf("CRD, config/crd (-) against the chart (+):\n%s", diff)
	}

	// What differs by design: labels (the chart adds instance, version, managed-by),
	// the image (the chart tags it with its appVersion) and its pull policy.
	hd, kd := deployment(t, h), deployment(t, k)
	strip := func(d *appsv1.Deployment) appsv1.DeploymentSpec {
		s := *d.Spec.DeepCopy()
		s.Selector = nil
		s.Template.Labels = nil
		s.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector = nil
		s.Template.Spec.Containers[0].Image = ""
		s.Template.Spec.Containers[0].ImagePullPolicy = ""
		return s
	}
	if diff := cmp.Diff(strip(kd), strip(hd)); diff != "" {
		t.Errorf("Deployment spec, config/manager (-) against the chart (+):\n%s", diff)
	}
	if names := [2]string{hd.Namespace + "/" + hd.Name, kd.Namespace + "/" + kd.Name}; names[0] != names[1] {
		t.Errorf("Deployment %s in the chart, %s in config/default: want the same name", names[0], names[1])
	}
}

func TestChartAPIServer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		set        []string
		host, port string
	}{
		{"address", []string{"apiServer.host=10.245.0.1", "apiServer.port=6443"}, "10.245.0.1", "6443"},
		{"name", []string{"apiServer.host=api.example.internal", "apiServer.port=443"}, "api.example.internal", "443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controller(t, deployment(t, chart(t, tc.set...)))
			host, okHost := env(c, "KUBERNETES_SERVICE_HOST")
			port, okPort := env(c, "KUBERNETES_SERVICE_PORT")
			if !okHost || !okPort || host != tc.host || port != tc.port {
				t.Errorf("env %q: KUBERNETES_SERVICE_HOST=%q (%v), KUBERNETES_SERVICE_PORT=%q (%v); want %q and %q",
					envNames(c), host, okHost, port, okPort, tc.host, tc.port)
			}
		})
	}
	// One without the other is a mistake: the kubelet's port would go with another host.
	for _, set := range []string{"apiServer.host=10.245.0.1", "apiServer.port=6443"} {
		_, err := deploy.Chart(context.Background(), "regcred", "regcred-system", set)
		if err == nil || !strings.Contains(err.Error(), "is needed with apiServer.") {
			t.Errorf("helm template --set %s: %v, want an error asking for the other half", set, err)
		}
	}
}

func TestChartValues(t *testing.T) {
	t.Run("controller flags", func(t *testing.T) {
		c := controller(t, deployment(t, chart(t,
			"workers=8", "kubeAPIQPS=-1", "kubeAPIBurst=300", "logLevel=debug",
			"extraArgs={--some-flag=x}", "extraEnv[0].name=GOMEMLIMIT", "extraEnv[0].value=200MiB",
			"image.repository=127.0.0.1:5000/regcred/regcred-controller", "image.tag=e2e", "image.pullPolicy=Always")))
		wantArgs := []string{"--leader-elect=true", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
			"--workers=8", "--kube-api-qps=-1", "--kube-api-burst=300", "--zap-log-level=debug", "--some-flag=x"}
		if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
		if v, ok := env(c, "GOMEMLIMIT"); !ok || v != "200MiB" {
			t.Errorf("env %q: GOMEMLIMIT=%q, want 200MiB", envNames(c), v)
		}
		if c.Image != "127.0.0.1:5000/regcred/regcred-controller:e2e" || c.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("image %q pull policy %q, want 127.0.0.1:5000/regcred/regcred-controller:e2e, Always", c.Image, c.ImagePullPolicy)
		}
	})

	t.Run("optional objects off", func(t *testing.T) {
		objs := chart(t, "leaderElection.enabled=false", "podDisruptionBudget.enabled=false", "metrics.service.enabled=false", "replicaCount=1")
		for _, kind := range []string{"Role", "RoleBinding", "PodDisruptionBudget", "Service"} {
			if has(objs, kind) {
				t.Errorf("a %s with it disabled: %q", kind, names(objs))
			}
		}
		d := deployment(t, objs)
		if c := controller(t, d); !slices.Contains(c.Args, "--leader-elect=false") {
			t.Errorf("args %q, want --leader-elect=false", c.Args)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("replicas %d, want 1", *d.Spec.Replicas)
		}
	})

	t.Run("credential provider plugins", func(t *testing.T) {
		d := deployment(t, chart(t, "credentialProviders.volume.image.reference=registry.example.com/plugins:1"))
		c := controller(t, d)
		if !slices.Contains(c.Args, "--credential-provider-bin-dir=/credential-providers") {
			t.Errorf("args %q, want --credential-provider-bin-dir=/credential-providers", c.Args)
		}
		vols := d.Spec.Template.Spec.Volumes
		if len(vols) != 1 || vols[0].Image == nil || vols[0].Image.Reference != "registry.example.com/plugins:1" {
			t.Errorf("volumes %+v, want the image volume", vols)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/credential-providers" || !c.VolumeMounts[0].ReadOnly || c.VolumeMounts[0].Name != vols[0].Name {
			t.Errorf("mounts %+v, want the plugins read-only at /credential-providers", c.VolumeMounts)
		}
	})

	t.Run("pod placement", func(t *testing.T) {
		d := deployment(t, chart(t, "nodeSelector.role=infra", "tolerations[0].key=infra", "tolerations[0].operator=Exists",
			"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone",
			"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
			"imagePullSecrets[0].name=controller-pull"))
		pod := d.Spec.Template.Spec
		if pod.NodeSelector["role"] != "infra" || len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "infra" {
			t.Errorf("nodeSelector %v tolerations %+v, want role=infra and the infra toleration", pod.NodeSelector, pod.Tolerations)
		}
		if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil || pod.Affinity.PodAntiAffinity != nil {
			t.Errorf("affinity %+v, want the given one in place of the default", pod.Affinity)
		}
		if len(pod.ImagePullSecrets) != 1 || pod.ImagePullSecrets[0].Name != "controller-pull" {
			t.Errorf("imagePullSecrets %+v, want controller-pull", pod.ImagePullSecrets)
		}
	})

	t.Run("names", func(t *testing.T) {
		for _, tc := range []struct {
			release string
			set     []string
			want    string
		}{
			{"regcred", nil, "regcred-controller"},
			{"my-regcred", nil, "my-regcred-controller"},
			{"creds", nil, "creds-regcred-controller"},
			{"creds", []string{"fullnameOverride=pull-secrets"}, "pull-secrets"},
		} {
			objs, err := deploy.Chart(context.Background(), tc.release, "ns", tc.set...)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if o.GetKind() != "Deployment" && o.GetKind() != "ClusterRole" && o.GetKind() != "ServiceAccount" {
					continue
				}
				if o.GetName() != tc.want {
					t.Errorf("release %s %q: %s named %q, want %q", tc.release, tc.set, o.GetKind(), o.GetName(), tc.want)
				}
			}
		}
	})
}

// selects reports whether a selector's labels are all among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// equality compares resource lists by quantity, not by how they are written.
func equality(a, b corev1.ResourceRequirements) bool {
	same := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, q := range x {
			if r, ok := y[k]; !ok || q.Cmp(r) != 0 {
				return false
			}
		}
		return true
	}
	return same(a.Requests, b.Requests) && same(a.Limits, b.Limits)
}
