package credentialprovider

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxShownStderr is how much of a plugin's stderr an error carries: its end, where
// the cause usually is.
const maxShownStderr = 1024

var (
	// A JSON Web Token: three base64url parts, the first a JSON object ("eyJ").
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// A value after a word that says it is secret: password=x, "token": "x",
	// Authorization: Bearer x.
	namedRE = regexp.MustCompile(`(?i)((?:password|passwd|secret|token|credential|authorization|auth|apikey|api_key|access_key|secret_key)["']?\s*[:=]\s*["']?(?:(?:bearer|basic)\s+)?)[^\s"',;}]+`)
	// A long run of base64 or hex, as tokens and keys are written.
	blobRE = regexp.MustCompile(`[A-Za-z0-9+/_-]{32,}={0,2}`)
)

// Redact returns a plugin's stderr fit for status and Events: each of the secrets
// given, anything shaped like a token (a JSON Web Token, a value after a word such as
// password or token, a run of 32 or more base64
// characters that mixes cases and digits, or of 64 or more) replaced by REDACTED,
// control characters but newlines and tabs dropped, and cut to its last 1 KiB.
func Redact(text string, secrets ...string) string {
	text = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, text)
	for _, s := range secrets {
		if len(s) >= 4 {
			text = strings.ReplaceAll(text, s, "REDACTED")
		}
	}
	text = jwtRE.ReplaceAllString(text, "REDACTED")
	text = namedRE.ReplaceAllString(text, "${1}REDACTED")
	text = blobRE.ReplaceAllStringFunc(text, func(m string) string {
		if len(m) >= 64 || (strings.ContainsAny(m, "0123456789") && strings.ToLower(m) != m && strings.ToUpper(m) != m) {
			return "REDACTED"
		}
		return m // a path or a long word, not a token
	})
	text = strings.TrimSpace(text)
	if len(text) > maxShownStderr {
		cut := len(text) - maxShownStderr
		for cut < len(text) && !utf8.RuneStart(text[cut]) {
			cut++
		}
		text = "..." + text[cut:]
	}
	return text
}
