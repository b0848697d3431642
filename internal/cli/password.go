package cli

import (
	"fmt"
	"io"
	"strings"
)

// readPassword reads a password from r (standard input or a file, which from names for
// the errors), dropping one trailing line end as `docker login --password-stdin` does.
// An empty password is refused.
func readPassword(r io.Reader, from string) (string, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("read the password from %s: %w", from, err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("the password is empty (read from %s): pipe it in with printf '%%s' \"$PASSWORD\" | ... --password-stdin", from)
	}
	return pw, nil
}
