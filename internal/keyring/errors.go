package keyring

import "errors"

// ErrInvalidImage is wrapped by the error Lookup returns for an image reference the
// kubelet cannot parse (the pod then fails with InvalidImageName and nothing is pulled).
var ErrInvalidImage = errors.New("invalid image reference")

// ErrUnparsableKey is wrapped by the error NormalizeKey returns for a registry key the
// kubelet cannot parse; the kubelet logs such a key and ignores its credentials.
var ErrUnparsableKey = errors.New("unparsable registry key")
