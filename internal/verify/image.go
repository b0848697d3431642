package verify

import (
	"github.com/distribution/reference"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
)

// target is a parsed image.
type target struct {
	host, repository, reference string
}

func parseImage(image string) (target, error) {
	named, err := keyring.ParseImage(image)
	if err != nil {
		return target{}, err
	}
	t := target{host: reference.Domain(named), repository: reference.Path(named), reference: "latest"}
	if dockercfg.IsDockerHub(t.host) {
		t.host = dockercfg.DockerHubAPIHost
	}
	if tagged, ok := named.(reference.Tagged); ok {
		t.reference = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		t.reference = digested.Digest().String()
	}
	return t, nil
}
