package keyring

import (
	"fmt"
	"net/url"
	"strings"
)

// NormalizeKey returns the key under which the kubelet stores credentials written
// under key, as BasicDockerKeyring.Add does: "https://" is prepended unless key starts
// with "http://" or "https://" (case-sensitively), the result is parsed as a URL, a
// leading "/v1/" or "/v2/" is cut from its path, and the key becomes the URL's host
// (with port) followed by the remaining path, if any besides "/". Scheme, user
// information, query and fragment are dropped and the path is percent-decoded.
//
// A key the kubelet cannot parse gives an error wrapping ErrUnparsableKey; the kubelet
// drops such keys.
func NormalizeKey(key string) (string, error) {
	raw := key
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		raw = "https://" + raw
	}
	parsed, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrUnparsableKey, key, err)
	}
	path := parsed.Path
	if strings.HasPrefix(path, "/v2/") || strings.HasPrefix(path, "/v1/") {
		path = path[len("/v1"):]
	}
	if path != "" && path != "/" {
		return parsed.Host + path, nil
	}
	return parsed.Host, nil
}
