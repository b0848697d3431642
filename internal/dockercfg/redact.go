package dockercfg

import "strings"

// Redacted stands for the user information of a registry key when it is shown.
const Redacted = "REDACTED"

// DisplayKey returns a registry key fit to print: user information written into the
// key (https://user:password@host) is replaced with REDACTED, since the kubelet accepts
// such keys and drops that part, and it may be a password.
func DisplayKey(key string) string { return RedactKey(key, Redacted) }

// RedactKey replaces the user information of a registry key with placeholder: both
// what the kubelet parses as user information (the key read as a URL, "https://"
// prepended unless it starts with "https://" or "http://") and what a reader takes
// for it after any other scheme ("HTTPS://user:password@host", which the kubelet
// reads as a path). The rest of the key is kept byte for byte.
func RedactKey(key, placeholder string) string {
	key = redactAfter(key, userInfoStart(key), placeholder)
	if i := strings.Index(key, "://"); i > 0 && isScheme(key[:i]) {
		key = redactAfter(key, i+len("://"), placeholder)
	}
	return key
}

// userInfoStart is where the kubelet's URL parse of the key begins its authority.
func userInfoStart(key string) int {
	for _, scheme := range []string{"https://", "http://"} {
		if strings.HasPrefix(key, scheme) {
			return len(scheme)
		}
	}
	return 0
}

// redactAfter replaces the user information of the authority that starts at from:
// the text up to the last "@" before the first "/", "?" or "#", as url.Parse splits it.
func redactAfter(key string, from int, placeholder string) string {
	rest := key[from:]
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return key
	}
	return key[:from] + placeholder + rest[at:]
}

// isScheme reports whether s has the form of a URL scheme.
func isScheme(s string) bool {
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}
