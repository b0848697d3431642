package dockercfg

import (
	"fmt"
	"log/slog"
)

// Credential is what the kubelet takes from an entry.
type Credential struct {
	Username string
	Password string
	Email    string
}

// String names the user and hides the password.
func (c Credential) String() string {
	return fmt.Sprintf("%s (password %s)", userOrNone(c.Username), redact(c.Password))
}

// LogValue hides the password in structured logs.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("password", redact(c.Password)))
}

// Empty reports whether the credential has neither username nor password: the kubelet
// then sends no credentials at all, and no node-level ones either.
func (c Credential) Empty() bool { return c.Username == "" && c.Password == "" }

func redact(secret string) string {
	if secret == "" {
		return "empty"
	}
	return "redacted"
}

func userOrNone(u string) string {
	if u == "" {
		return "no username"
	}
	return u
}
