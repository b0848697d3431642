package verify

import (
	"errors"
	"fmt"

	"github.com/distribution/reference"
)

// ErrInvalidImage is returned for an image reference that cannot be parsed.
var ErrInvalidImage = errors.New("invalid image reference")

// target is a parsed image.
type target struct {
	host, repository, reference string
}

func parseImage(image string) (target, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return target{}, fmt.Errorf("%w %q: %v", ErrInvalidImage, image, err)
	}
	t := target{host: reference.Domain(named), repository: reference.Path(named), reference: "latest"}
	if t.host == "docker.io" {
		t.host = "registry-1.docker.io"
	}
	if tagged, ok := named.(reference.Tagged); ok {
		t.reference = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		t.reference = digested.Digest().String()
	}
	return t, nil
}
