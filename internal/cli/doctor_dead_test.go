package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/registry"
)

// TestDoctorWorkloadsOnDeadRegistries: Deployments without pods whose images are on
// three registries that never answer cost about one registry time-out on top of the
// API requests (measured by the same run --offline): workload templates are probed
// together under one bound, and each dead host is asked once.
func TestDoctorWorkloadsOnDeadRegistries(t *testing.T) {
	const timeout, workloads = 2 * time.Second, 6
	ns := newNamespace(t, "doctor-dead")
	// The registries are on loopback: with the cluster's only node this machine, a
	// template's pod pulls from this machine's loopback, so doctor probes them.
	newNode(t, ns, localAddress(t))
	var hosts []string
	for range 3 {
		s, err := registry.StartSilent()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		hosts = append(hosts, s.Host)
	}
	args := []string{"doctor", "-n", ns, "--registry-timeout", timeout.String()}
	for i := range workloads {
		name := fmt.Sprintf("w%d", i)
		labels := map[string]string{"app": name}
		_, err := kube.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: fmt.Sprintf("%s/team/app-%d:v1", hosts[i%len(hosts)], i)}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "deploy/"+name)
	}
	start := time.Now()
	runCmd(t, append(args, "--offline")...)
	offline := time.Since(start)
	start = time.Now()
	out, errOut, code := runCmd(t, args...)
	online := time.Since(start)
	if online-offline > 2*timeout {
		t.Errorf("doctor over %d workloads on 3 dead registries took %s, %s more than --offline; want about one time-out (%s) more", workloads, online, online-offline, timeout)
	}
	if code != 1 || strings.Count(out, "RegistryUnreachable: timeout") != workloads || strings.Count(out, "remembered") != workloads-len(hosts) {
		t.Errorf("doctor: exit %d, want 1 with %d RegistryUnreachable findings, all but one per host remembered\n%s%s", code, workloads, out, errOut)
	}
}

// TestVerifyDeadRegistry: verify tries every credential that matches, as the kubelet
// does; on a registry that never answers the second waits for the first one's
// time-out and gets its answer, remembered, instead of a time-out of its own.
func TestVerifyDeadRegistry(t *testing.T) {
	const timeout = 2 * time.Second
	ns := newNamespace(t, "verify-dead")
	s, err := registry.StartSilent()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	createSecret(t, ns, "two", "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": `{"auths":{"` + s.Host + `":{"auth":"` + dockercfg.EncodeAuth("alice", "one") + `"},"` + s.Host + `/team":{"auth":"` + dockercfg.EncodeAuth("alice", "two") + `"}}}`})
	start := time.Now()
	out, errOut, code := runCmd(t, "verify", "two", "-n", ns, "--image", s.Host+"/team/app:v1", "--registry-timeout", timeout.String())
	if d := time.Since(start); d > timeout*3/2 {
		t.Errorf("verify with two credentials on a dead registry took %s, want about one time-out (%s)", d, timeout)
	}
	if code != 1 || strings.Count(out, "RegistryUnreachable") != 2 || strings.Count(out, "remembered") != 1 || s.Accepted() != 1 {
		t.Errorf("verify: exit %d, %d connections; want 1, two RegistryUnreachable attempts, the second remembered, one connection\n%s%s", code, s.Accepted(), out, errOut)
	}
}
