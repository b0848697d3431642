// The differential test of regcred's keyring against the kubelet's own code: the same
// pod pull Secrets (valid and malformed) and images go to k8s.io/kubernetes at the
// version this module pins (pkg/credentialprovider/secrets.MakeDockerKeyring, then
// parsers.ParseImageName and Lookup, as pkg/kubelet/images does) and to regcred's
// internal/keyring, through hack/keyringoracle (regcred's module cannot be required
// here without moving the pins the Kubernetes binaries are built from). Both must
// fail on the same Secrets, with the same kind of error, and try the same credentials
// in the same order, where entries of one Secret that normalize to the same key count
// as a set: the kubelet tries those in Go map order.
package k8s

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/util/parsers"
)

// oracle answers queries with regcred's keyring, from a long-running
// hack/keyringoracle.
type oracle struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Scanner
}

type oracleAnswer struct {
	Malformed bool   `json:"malformed"`
	Class     string `json:"class"`
	Error     string `json:"error"`
	Skipped   int    `json:"skipped"`
	Lookups   []struct {
		Image        string `json:"image"`
		InvalidImage bool   `json:"invalidImage"`
		Credentials  []struct {
			Username, Password, NormalizedKey, Source string
		} `json:"credentials"`
	} `json:"lookups"`
}

var (
	oracleOnce sync.Once
	theOracle  *oracle
	oracleErr  error
)

// oracleEnv names the built hack/keyringoracle; TestMain sets it, so that fuzzing
// workers, which inherit it, do not build it again.
const oracleEnv = "REGCRED_KEYRINGORACLE"

func TestMain(m *testing.M) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard) // the kubelet logs each key it cannot parse
	if os.Getenv(oracleEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "keyringoracle")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code, err := buildOracle(filepath.Join(dir, "keyringoracle"), m)
	_ = os.RemoveAll(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

// buildOracle builds hack/keyringoracle from regcred's module, three folders up, and
// runs the tests with it.
func buildOracle(bin string, m *testing.M) (int, error) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		return 0, err
	}
	build := exec.Command("go", "build", "-o", bin, "./hack/keyringoracle")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build hack/keyringoracle: %w\n%s", err, out)
	}
	if err := os.Setenv(oracleEnv, bin); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// startOracle starts hack/keyringoracle, once per test process.
func startOracle(t testing.TB) *oracle {
	t.Helper()
	oracleOnce.Do(func() {
		cmd := exec.Command(os.Getenv(oracleEnv))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			oracleErr = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			oracleErr = err
			return
		}
		if err := cmd.Start(); err != nil {
			oracleErr = fmt.Errorf("start keyringoracle: %w", err)
			return
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		theOracle = &oracle{in: in, out: sc}
	})
	if oracleErr != nil {
		t.Fatal(oracleErr)
	}
	return theOracle
}

func (o *oracle) ask(t testing.TB, pullSecrets []corev1.Secret, images []string) oracleAnswer {
	t.Helper()
	q, err := json.Marshal(map[string]any{"secrets": pullSecrets, "images": images})
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.in.Write(append(q, '\n')); err != nil {
		t.Fatalf("query keyringoracle: %v", err)
	}
	if !o.out.Scan() {
		t.Fatalf("keyringoracle gave no answer: %v", o.out.Err())
	}
	var a oracleAnswer
	if err := json.Unmarshal(o.out.Bytes(), &a); err != nil {
		t.Fatalf("keyringoracle answer %s: %v", o.out.Bytes(), err)
	}
	return a
}

// kubeletClass names the kind of error the kubelet's decoding gave.
func kubeletClass(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var corrupt base64.CorruptInputError
	switch {
	case errors.As(err, &syn):
		return "syntax"
	case errors.As(err, &typ):
		return "type"
	case errors.As(err, &corrupt):
		return "base64"
	case err.Error() == "unable to parse auth field, must be formatted as base64(username:password)":
		return "colon"
	default:
		return "other: " + err.Error()
	}
}

// compare puts the Secrets and images to the kubelet's code and to regcred's, and
// reports every difference.
func compare(t testing.TB, pullSecrets []corev1.Secret, images []string) {
	t.Helper()
	ours := startOracle(t).ask(t, pullSecrets, images)
	kr, err := secrets.MakeDockerKeyring(pullSecrets, nil)
	if err != nil {
		if !ours.Malformed {
			t.Fatalf("the kubelet cannot parse the Secrets (%v); regcred can", err)
		}
		if want := kubeletClass(err); ours.Class != want {
			t.Fatalf("the kubelet fails with a %s error (%v); regcred with a %s error (%s)", want, err, ours.Class, ours.Error)
		}
		if ours.Class == "base64" && !strings.Contains(ours.Error, err.Error()) {
			t.Fatalf("the kubelet fails with %q; regcred says %q", err, ours.Error)
		}
		return
	}
	if ours.Malformed {
		t.Fatalf("regcred cannot parse the Secrets (%s); the kubelet can", ours.Error)
	}
	if len(ours.Lookups) != len(images) {
		t.Fatalf("regcred answered %d lookups for %d images", len(ours.Lookups), len(images))
	}
	for i, image := range images {
		got := ours.Lookups[i]
		repo, _, _, perr := parsers.ParseImageName(image)
		if (perr != nil) != got.InvalidImage {
			t.Errorf("image %q: the kubelet's parse error = %v, regcred's invalid = %v", image, perr, got.InvalidImage)
			continue
		}
		if perr != nil {
			continue
		}
		var tried []credentialprovider.TrackedAuthConfig
		if kr != nil {
			tried, _ = kr.Lookup(repo)
		}
		if len(tried) != len(got.Credentials) {
			t.Errorf("image %q: the kubelet tries %d credentials %v, regcred %d %v", image, len(tried), users(tried), len(got.Credentials), got.Credentials)
			continue
		}
		// Runs of one normalized key from one Secret are in Go map order in the
		// kubelet: compare each run as a set, and the runs in order.
		for start := 0; start < len(got.Credentials); {
			end := start + 1
			for end < len(got.Credentials) && got.Credentials[end].NormalizedKey == got.Credentials[start].NormalizedKey &&
				got.Credentials[end].Source == got.Credentials[start].Source {
				end++
			}
			var want, have []string
			for j := start; j < end; j++ {
				want = append(want, tried[j].Username+"\x00"+tried[j].Password)
				have = append(have, got.Credentials[j].Username+"\x00"+got.Credentials[j].Password)
			}
			slices.Sort(want)
			slices.Sort(have)
			if !slices.Equal(want, have) {
				t.Errorf("image %q: credentials %d to %d are %q for the kubelet, %q for regcred (key %q)", image, start, end-1, want, have, got.Credentials[start].NormalizedKey)
			}
			start = end
		}
	}
}

func users(tried []credentialprovider.TrackedAuthConfig) []string {
	var out []string
	for _, c := range tried {
		out = append(out, c.Username)
	}
	return out
}

func secret(name string, typ corev1.SecretType, key, data string) corev1.Secret {
	return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}, Type: typ, Data: map[string][]byte{key: []byte(data)}}
}

func configJSON(name, data string) corev1.Secret {
	return secret(name, corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, data)
}

func dockercfg(name, data string) corev1.Secret {
	return secret(name, corev1.SecretTypeDockercfg, corev1.DockerConfigKey, data)
}

func auth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// images are looked up in every case: Docker Hub by each of its names, registries
// with ports, paths and capitals, and references the kubelet cannot parse.
var images = []string{
	"nginx", "library/nginx:1.27", "docker.io/library/nginx", "index.docker.io/library/nginx", "registry-1.docker.io/library/nginx",
	"myorg/app", "MyOrg/app", "localhost/app", "localhost:5000/app",
	"reg.example.com/team/app:1", "reg.example.com/teamx/app", "reg.example.com:5000/team/app", "sub.reg.example.com/app",
	"Reg.Example.com/app", "reg.example.com/team/app@sha256:" + strings.Repeat("a", 64),
	"[::1]:5000/app", "127.0.0.1:5000/app", "", "UPPER/Case", "reg.example.com/app:bad tag", "https://reg.example.com/app",
}

// cases are Secrets as pods reference them: every way of being malformed the
// kubelet's decoding (config.go and secrets.go) has, what it accepts that looks
// wrong, and keys in every shape NormalizeKey and the matching rules distinguish.
var cases = []struct {
	name    string
	secrets []corev1.Secret
}{
	{"one key per registry", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"`+auth("alice", "pw-a")+`"},"https://index.docker.io/v1/":{"username":"bob","password":"pw-b"}}}`)}},
	{"keys in every shape", []corev1.Secret{configJSON("a", `{"auths":{`+
		`"https://reg.example.com/v2/team":{"auth":"`+auth("u1", "p1")+`"},`+
		`"http://reg.example.com/v1/":{"auth":"`+auth("u2", "p2")+`"},`+
		`"reg.example.com:5000":{"auth":"`+auth("u3", "p3")+`"},`+
		`"*.example.com":{"auth":"`+auth("u4", "p4")+`"},`+
		`"*.reg.example.com":{"auth":"`+auth("u5", "p5")+`"},`+
		`"docker.io/library":{"auth":"`+auth("u6", "p6")+`"},`+
		`"docker.io":{"auth":"`+auth("u7", "p7")+`"},`+
		`"registry-1.docker.io":{"auth":"`+auth("u8", "p8")+`"},`+
		`"HTTPS://reg.example.com":{"auth":"`+auth("u9", "p9")+`"},`+
		`"reg.example.com:abc":{"auth":"`+auth("u10", "p10")+`"},`+
		`"https://alice:pw@reg.example.com/team":{"auth":"`+auth("u11", "p11")+`"},`+
		`"localhost:5000":{"auth":"`+auth("u12", "p12")+`"},`+
		`"MyOrg":{"auth":"`+auth("u13", "p13")+`"},`+
		`"[::1]:5000":{"auth":"`+auth("u14", "p14")+`"},`+
		`"reg.example.com/team/app:1":{"auth":"`+auth("u15", "p15")+`"}`+
		`}}`)}},
	{"one Secret, keys normalizing alike (map order)", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"`+auth("u1", "p1")+`"},"https://reg.example.com":{"auth":"`+auth("u2", "p2")+`"},"https://reg.example.com/v2/":{"auth":"`+auth("u3", "p3")+`"},"http://reg.example.com/v1/":{"auth":"`+auth("u4", "p4")+`"}}}`)}},
	{"two Secrets, the same key (Secret order)", []corev1.Secret{
		configJSON("a", `{"auths":{"reg.example.com":{"auth":"`+auth("first", "p1")+`"}}}`),
		dockercfg("b", `{"reg.example.com":{"auth":"`+auth("second", "p2")+`"},"index.docker.io":{"auth":"`+auth("hub", "p3")+`"}}`),
	}},
	{"Docker Hub fallback hidden by a match", []corev1.Secret{configJSON("a", `{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth("hub", "p1")+`"},"docker.io/library":{"auth":"`+auth("lib", "p2")+`"}}}`)}},
	{"auth overrides username and password", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"username":"x","password":"y","auth":"`+auth("alice", "p")+`"}}}`)}},
	{"unpadded auth and newlines", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"dXNl\ncjpwYXNz"},"b.example.com":{"auth":"YTpi"}}}`)}},
	{"field names in other case, tokens of any type", []corev1.Secret{configJSON("a", `{"AUTHS":{"reg.example.com":{"UserName":"u","PASSWORD":"p","identitytoken":5,"registrytoken":{}}},"credsStore":1}`)}},
	{"null document", []corev1.Secret{configJSON("a", `null`)}},
	{"null auths and null entry", []corev1.Secret{configJSON("a", `{"auths":null}`), configJSON("b", `{"auths":{"reg.example.com":null}}`)}},
	{"empty entry", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{}}}`)}},
	{"no auths, a bare map", []corev1.Secret{configJSON("a", `{"reg.example.com":{"auth":"`+auth("u", "p")+`"}}`)}},
	{"skipped: wrong type, no data, empty data", []corev1.Secret{
		secret("a", corev1.SecretTypeOpaque, corev1.DockerConfigJsonKey, `{"auths":{"reg.example.com":{"auth":"!!!"}}}`),
		secret("b", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigKey, `{"reg.example.com":{"auth":"!!!"}}`),
		configJSON("c", ``),
		configJSON("d", `{"auths":{"reg.example.com":{"auth":"`+auth("u", "p")+`"}}}`),
	}},
	// Malformed: the kubelet fails the whole keyring.
	{"auth without colon", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"bm9jb2xvbg=="}}}`)}},
	{"auth not base64", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"dXNlcjpw*XNz"}}}`)}},
	{"auth padded wrongly", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"dXNlcjpwYX="}}}`)}},
	{"auth url-safe base64", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":"`+strings.NewReplacer("+", "-", "/", "_").Replace(auth("u", "p>>>?"))+`"}}}`)}},
	{"auth is a number", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"auth":5}}}`)}},
	{"username is a number", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"username":5}}}`)}},
	{"password is a boolean", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"password":true}}}`)}},
	{"email is an object", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":{"email":{}}}}`)}},
	{"entry is a string", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":"x"}}`)}},
	{"entry is an array", []corev1.Secret{configJSON("a", `{"auths":{"reg.example.com":[]}}`)}},
	{"auths is an array", []corev1.Secret{configJSON("a", `{"auths":[]}`)}},
	{"auths is a string", []corev1.Secret{configJSON("a", `{"Auths":"x"}`)}},
	{"HttpHeaders is a string", []corev1.Secret{configJSON("a", `{"auths":{},"HttpHeaders":"x"}`)}},
	{"HttpHeaders value is a number", []corev1.Secret{configJSON("a", `{"auths":{},"HttpHeaders":{"X-A":1}}`)}},
	{"top level is an array", []corev1.Secret{configJSON("a", `[]`)}},
	{"not JSON", []corev1.Secret{configJSON("a", `{"auths":`)}},
	{"dockercfg entry is a number", []corev1.Secret{dockercfg("a", `{"reg.example.com":1}`)}},
	{"dockercfg auth without colon", []corev1.Secret{dockercfg("a", `{"reg.example.com":{"auth":"bm9jb2xvbg=="}}`)}},
	{"dockercfg top level is a string", []corev1.Secret{dockercfg("a", `"x"`)}},
	{"a malformed Secret after a good one fails all", []corev1.Secret{
		configJSON("a", `{"auths":{"reg.example.com":{"auth":"`+auth("u", "p")+`"}}}`),
		configJSON("b", `{"auths":{"other.example.com":{"auth":"!!!"}}}`),
	}},
	{"first failing entry in document order", []corev1.Secret{configJSON("a", `{"auths":{"b.example.com":{"auth":"!!!"},"a.example.com":{"auth":"bm9jb2xvbg=="}}}`)}},
	{"a failing entry before a wrongly typed HttpHeaders", []corev1.Secret{configJSON("a", `{"HttpHeaders":1,"auths":{"r":{"auth":"bm9jb2xvbg=="}}}`)}},
}

func TestKeyringAgreesWithKubelet(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			compare(t, tt.secrets, images)
		})
	}
}

// FuzzKeyringAgreesWithKubelet puts fuzzed Secret data, a fuzzed key and a fuzzed
// image to both, behind a Secret that is always valid.
func FuzzKeyringAgreesWithKubelet(f *testing.F) {
	for _, tt := range cases {
		for _, s := range tt.secrets {
			for _, data := range s.Data {
				f.Add(data, s.Type == corev1.SecretTypeDockercfg, "reg.example.com", "reg.example.com/team/app")
			}
		}
	}
	f.Add([]byte(`{"auths":{}}`), false, "https://u:p@reg.example.com:5000/v2/x", "reg.example.com:5000/x/y")
	f.Add([]byte(`{}`), true, "*.*.example.com", "a.b.example.com/app")
	f.Add([]byte(`{}`), true, "reg.example.com/%zz", "reg.example.com/app")
	f.Fuzz(func(t *testing.T, data []byte, isDockercfg bool, key, image string) {
		fuzzed := configJSON("fuzzed", string(data))
		if isDockercfg {
			fuzzed = dockercfg("fuzzed", string(data))
		}
		quoted, _ := json.Marshal(key)
		keyed := configJSON("keyed", `{"auths":{`+string(quoted)+`:{"auth":"`+auth("keyed", "pk")+`"},"reg.example.com":{"auth":"`+auth("fixed", "pf")+`"}}}`)
		compare(t, []corev1.Secret{keyed, fuzzed}, []string{image, "reg.example.com/team/app", "nginx"})
	})
}
