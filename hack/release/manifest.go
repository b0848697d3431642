package main

// The krew plugin manifest (krew.googlecontainertools.github.com/v1alpha2 Plugin), the
// fields krew's index documents; the shape of sigs.k8s.io/krew/pkg/index.Plugin,
// which the main module does not depend on (krew is pinned in hack/tools/krew).

type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec manifestSpec `json:"spec"`
}

type manifestSpec struct {
	Version          string     `json:"version"`
	Homepage         string     `json:"homepage"`
	ShortDescription string     `json:"shortDescription"`
	Description      string     `json:"description"`
	Caveats          string     `json:"caveats,omitempty"`
	Platforms        []platform `json:"platforms"`
}

type platform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	Sha256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []file `json:"files"`
}

type file struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func newManifest(version string) *manifest {
	m := &manifest{APIVersion: "krew.googlecontainertools.github.com/v1alpha2", Kind: "Plugin"}
	m.Metadata.Name = "regcred"
	m.Spec = manifestSpec{
		Version:          version,
		Homepage:         "https://github.com/regcred/regcred",
		ShortDescription: "Create, verify and debug image pull Secrets",
		Description: `regcred creates, inspects, attaches and verifies image pull Secrets, and its
doctor explains image pull failures as the kubelet sees them: which Secret the
kubelet tries for an image, what the registry answers, and the fix.`,
	}
	return m
}

// addPlatform adds p's archive: the binary, and the LICENSE when there is one.
func (m *manifest) addPlatform(p Platform, uri, sha256 string, license bool) {
	pl := platform{URI: uri, Sha256: sha256, Bin: p.bin(), Files: []file{{From: p.bin(), To: "."}}}
	if license {
		pl.Files = append(pl.Files, file{From: "LICENSE", To: "."})
	}
	pl.Selector.MatchLabels = map[string]string{"os": p.OS, "arch": p.Arch}
	m.Spec.Platforms = append(m.Spec.Platforms, pl)
}
