package dockercfg

import "strings"

// DisplayKey returns a registry key fit to print: user information written into the
// key (https://user:password@host) is replaced, since the kubelet accepts such keys
// and drops that part, and it may be a password.
func DisplayKey(key string) string {
	rest, scheme := key, ""
	if i := strings.Index(rest, "://"); i >= 0 {
		scheme, rest = rest[:i+3], rest[i+3:]
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return key
	}
	return scheme + "REDACTED@" + rest[at+1:]
}

// RedactUserInfo replaces, in a text, the user information of each key (the user:password
// of https://user:password@host), however the key was rewritten around it.
func RedactUserInfo(text string, keys ...string) string {
	for _, k := range keys {
		rest := k
		if i := strings.Index(rest, "://"); i >= 0 {
			rest = rest[i+3:]
		}
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		if at := strings.LastIndexByte(rest, '@'); at > 0 {
			text = strings.ReplaceAll(text, rest[:at], "REDACTED")
		}
	}
	return text
}
