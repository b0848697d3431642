package doctor

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// Every fix that writes a key (kubectl regcred create --server S) writes the key
// dockercfg.KeyFor(S), and that key must be one the kubelet matches to the image, or
// the fix fixes nothing. For most images the image's registry is such a server. Some
// images no key regcred writes can match: registry-1.docker.io/x (regcred writes
// Docker Hub's key, https://index.docker.io/v1/, which the kubelet matches only to
// images it normalizes to docker.io), or a host with capitals. Those images must be
// written another way, and the fix says so first.

// serverFor returns the --server whose key the kubelet matches to the image and, when
// no key regcred writes matches the image as written, the image as it must be written
// (with that server's key matching it).
func serverFor(image string) (server, rewritten string) {
	res, err := keyring.Lookup(image, nil)
	if err != nil {
		return "REGISTRY", ""
	}
	reg := registryOf(res.Repository)
	if keyMatches(image, reg) {
		return reg, ""
	}
	host, rest, _ := strings.Cut(image, "/")
	var alts []string
	if dockercfg.LoginHost(host) == dockercfg.LoginHost("docker.io") && rest != "" {
		alts = append(alts, "docker.io") // Docker Hub by another name
	}
	if lower := strings.ToLower(host); lower != host && rest != "" {
		alts = append(alts, lower) // regcred writes no key with capitals
	}
	for _, alt := range alts {
		if keyMatches(alt+"/"+rest, alt) {
			return alt, alt + "/" + rest
		}
	}
	return reg, ""
}

// keyMatches reports whether the key `regcred create --server server` writes is one
// the kubelet tries for the image.
func keyMatches(image, server string) bool {
	k, err := dockercfg.KeyFor(server)
	if err != nil {
		return false
	}
	res, err := keyring.Lookup(image, []keyring.Entry{{Key: k}})
	return err == nil && len(res.Matches) > 0
}

var writesKey = regexp.MustCompile(`kubectl regcred create \S+ .*--server \S+`)

// rewriteImageFix puts first, in a fix that writes a key, the change of the image
// that lets the kubelet match that key.
func rewriteImageFix(p *corev1.Pod, f *Finding) {
	if f.Image == "" {
		return
	}
	_, rewritten := serverFor(f.Image)
	if rewritten == "" {
		return
	}
	for _, line := range f.Fix {
		if writesKey.MatchString(line) {
			f.Fix = append([]string{fmt.Sprintf("write the image as %s instead of %s%s: the kubelet matches no key regcred writes to it as written", rewritten, f.Image, specOf(p))}, f.Fix...)
			f.Message += fmt.Sprintf("; written %s, the image matches only a key regcred cannot write", f.Image)
			return
		}
	}
}

// specOf names where a pod's image is written.
func specOf(p *corev1.Pod) string {
	if o := owner(p); o != "" {
		return " in the pod template of " + o
	}
	return " in the spec of pod " + p.Name
}
