package verify

import "strings"

// Challenge is one authentication challenge of a WWW-Authenticate header.
type Challenge struct {
	Scheme string            // lower case: "basic", "bearer"
	Params map[string]string // keys lower case
}

// ParseChallenges parses a WWW-Authenticate header value (RFC 7235): one or more
// challenges, each a scheme and comma-separated auth-params with token or
// quoted-string values. It never fails: what it cannot read it skips.
func ParseChallenges(header string) []Challenge {
	var out []Challenge
	s := header
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}
		scheme, rest := readToken(s)
		if scheme == "" {
			s = s[1:] // not a token: skip a character and resynchronise
			continue
		}
		c := Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
		s = rest
		for {
			// An auth-param is token "=" value; anything else ends this challenge.
			t := strings.TrimLeft(s, " \t,")
			name, after := readToken(t)
			after = strings.TrimLeft(after, " \t")
			if name == "" || !strings.HasPrefix(after, "=") {
				s = t
				break
			}
			after = strings.TrimLeft(after[1:], " \t")
			var value string
			if strings.HasPrefix(after, `"`) {
				value, s = readQuoted(after)
			} else {
				value, s = readToken(after)
			}
			c.Params[strings.ToLower(name)] = value
		}
		out = append(out, c)
	}
}

// readToken reads an RFC 7230 token.
func readToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// readQuoted reads a quoted-string starting at s[0] == '"', undoing backslash escapes.
// An unterminated string ends at the end of input.
func readQuoted(s string) (value, rest string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
