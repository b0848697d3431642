package keyring

import (
	// The kubelet links these so that sha256, sha384 and sha512 digests parse; without
	// them go-digest rejects "image@sha256:..." as an unsupported digest.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// ParseImage reduces image to the named reference the kubelet looks credentials up
// with, as parsers.ParseImageName does; the repository is its Name(). An image the
// kubelet cannot parse gives an error wrapping ErrInvalidImage. It is the one image
// parser: the registry checks use it too.
func ParseImage(image string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil, &imageError{image: image, err: err}
	}
	return named, nil
}

// imageError is an image the kubelet cannot parse. It matches ErrInvalidImage and the
// reference package's error with errors.Is.
type imageError struct {
	image string
	err   error
}

func (e *imageError) Error() string {
	msg := fmt.Sprintf("couldn't parse image name %q: %v", e.image, e.err)
	if hint := imageHint(e.image, e.err); hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

func (e *imageError) Unwrap() []error { return []error{ErrInvalidImage, e.err} }

// imageHint says in words what is most likely wrong with an image the reference
// grammar rejected, or "" when nothing more specific than err can be said.
func imageHint(image string, err error) string {
	switch {
	case image == "":
		return "the image is empty"
	case strings.TrimSpace(image) != image:
		return "the image has leading or trailing whitespace"
	case strings.ContainsAny(image, " \t\r\n"):
		return "the image contains whitespace"
	case strings.Contains(image, "://"):
		return "an image reference has no scheme: drop the \"https://\" or \"http://\""
	case errors.Is(err, reference.ErrNameContainsUppercase) || strings.Contains(err.Error(), "must be lowercase"):
		return "repository paths must be lowercase; only the registry host may contain capitals"
	case errors.Is(err, reference.ErrNameTooLong):
		return "the repository name is too long"
	case strings.Contains(err.Error(), "64-byte hexadecimal"):
		return "a bare image ID is not an image name"
	case errors.Is(err, reference.ErrReferenceInvalidFormat), errors.Is(err, reference.ErrTagInvalidFormat),
		errors.Is(err, reference.ErrDigestInvalidFormat):
		return "expected [host[:port]/]path[:tag][@algorithm:hex], e.g. reg.example.com:5000/team/app:1.0"
	default:
		return ""
	}
}
