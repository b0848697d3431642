//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/workload"
)

// TestDoctorMalformedSecrets gives pods Secrets that the API server accepts (it checks
// only that the data is a JSON object) and the kubelet cannot parse, one for each kind
// of error in its decoding; checks the raw error the real kubelet puts in the
// container's waiting reason, that dockercfg rejects the same data, and that doctor
// calls each pod a SecretMalformed error and exits 1.
func TestDoctorMalformedSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cs, reg := local.Client, local.Registries.Basic
	json1 := corev1.SecretTypeDockerConfigJson
	cases := []struct {
		ns     string
		typ    corev1.SecretType
		data   string
		reason string // the kubelet's waiting reason: its raw error (Kubernetes v1.37.2 built with Go 1.26)
	}{
		{"bad-colon", json1, `{"auths":{"` + reg.Host + `":{"auth":"bm9jb2xvbg=="}}}`, "unable to parse auth field, must be formatted as base64(username:password)"},
		{"bad-base64", json1, `{"auths":{"` + reg.Host + `":{"auth":"dXNlcjpw*XNz"}}}`, "illegal base64 data at input byte 8"},
		{"bad-password-type", json1, `{"auths":{"` + reg.Host + `":{"username":"u","password":12}}}`, "json: cannot unmarshal number into Go struct field DockerConfigJSON.auths.password of type string"},
		{"bad-entry-type", json1, `{"auths":{"` + reg.Host + `":"x"}}`, "json: cannot unmarshal string into Go struct field DockerConfigJSON.auths of type credentialprovider.dockerConfigEntryWithAuth"},
		{"bad-auths-type", json1, `{"auths":[]}`, "json: cannot unmarshal array into Go struct field DockerConfigJSON.auths of type credentialprovider.DockerConfig"},
		{"bad-headers-type", json1, `{"auths":{},"HttpHeaders":"x"}`, "json: cannot unmarshal string into Go struct field DockerConfigJSON.HttpHeaders of type map[string]string"},
		{"bad-dockercfg-entry", corev1.SecretTypeDockercfg, `{"` + reg.Host + `":1}`, "json: cannot unmarshal number into Go value of type credentialprovider.dockerConfigEntryWithAuth"},
	}
	image := reg.Ref("team/malformed:v1") // never pulled: the kubelet stops before
	for _, c := range cases {
		key := corev1.DockerConfigJsonKey
		format := dockercfg.ConfigJSON
		if c.typ == corev1.SecretTypeDockercfg {
			key, format = corev1.DockerConfigKey, dockercfg.Dockercfg
		}
		if _, err := dockercfg.Parse([]byte(c.data), format); err == nil {
			t.Errorf("%s: dockercfg.Parse accepts %s, which the kubelet rejects", c.ns, c.data)
		}
		if err := workload.Namespace(ctx, cs, c.ns); err != nil {
			t.Fatal(err)
		}
		if err := workload.Secret(ctx, cs, c.ns, "regcred", c.typ, map[string]string{key: c.data}); err != nil {
			t.Fatalf("%s: the API server refused the Secret: %v", c.ns, err)
		}
		if err := workload.Deployment(ctx, cs, c.ns, "app", image, "regcred"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		pod, err := cluster.WaitForPodSelected(ctx, cs, c.ns, "app=app", cluster.PodStuck)
		if err != nil {
			t.Fatalf("%s: %v", c.ns, err)
		}
		waiting := pod.Status.ContainerStatuses[0].State.Waiting
		t.Logf("%s: kubelet waiting reason %q, message %q", c.ns, waiting.Reason, waiting.Message)
		if waiting.Reason != c.reason {
			t.Errorf("%s: waiting reason %q, want %q", c.ns, waiting.Reason, c.reason)
		}

		out, errOut, code := regcred(t, "", "doctor", "-n", c.ns, "-o", "json")
		if code != 1 {
			t.Errorf("%s: doctor exit %d, want 1 (an error): %s %s", c.ns, code, out, errOut)
		}
		var rep doctorReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: doctor -o json: %v\n%s", c.ns, err, out)
		}
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.Severity+":"+f.Code)
		}
		if len(got) != 1 || got[0] != "error:SecretMalformed" {
			t.Errorf("%s: doctor findings %v, want [error:SecretMalformed]\n%s", c.ns, got, out)
		}
	}
}
