package dockercfg

import (
	"fmt"
	"log/slog"
)

// Credential is what the kubelet takes from an entry.
type Credential struct {
	Username string `json:"username"`
	Password string `json:"-"`
	Email    string `json:"email,omitempty"`
}

// String names the user and hides the password.
func (c Credential) String() string {
	return fmt.Sprintf("%s (password %s)", userOrNone(c.Username), redact(c.Password))
}

// GoString hides the password from %#v.
func (c Credential) GoString() string { return "dockercfg.Credential{" + c.String() + "}" }

// Format prints String for every verb, so no verb reveals the password.
func (c Credential) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
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
