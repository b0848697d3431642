package keyring

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted stands in for a password wherever an Entry is printed or logged.
const redacted = "(password redacted)"

// String returns "user@key from source (password redacted)".
func (e Entry) String() string {
	s := e.Username + "@" + e.Key
	if e.Source != "" {
		s += " from " + e.Source
	}
	return s + " " + redacted
}

// GoString is like %#v but redacts the password.
func (e Entry) GoString() string {
	return "keyring.Entry{Key:" + strconv.Quote(e.Key) +
		", Username:" + strconv.Quote(e.Username) +
		", Password:" + strconv.Quote(redacted) +
		", Source:" + strconv.Quote(e.Source) + "}"
}

// Format prints the entry with any verb without the password: %#v as GoString,
// every other verb as String.
func (e Entry) Format(f fmt.State, verb rune) { format(f, verb, e.String(), e.GoString()) }

// LogValue logs the entry with the password redacted.
func (e Entry) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", e.Key),
		slog.String("username", e.Username),
		slog.String("password", redacted),
		slog.String("source", e.Source),
	)
}

// String returns the entry as Entry.String does, with the normalized key and whether
// it matched through the Docker Hub fallback.
func (m Match) String() string {
	s := m.Entry.String() + " as " + strconv.Quote(m.NormalizedKey)
	if m.Fallback {
		s += " (Docker Hub fallback)"
	}
	return s
}

// GoString is like %#v but redacts the password.
func (m Match) GoString() string {
	return "keyring.Match{Entry:" + m.Entry.GoString() +
		", NormalizedKey:" + strconv.Quote(m.NormalizedKey) +
		", Fallback:" + strconv.FormatBool(m.Fallback) + "}"
}

// Format prints the match with any verb without the password: %#v as GoString,
// every other verb as String.
func (m Match) Format(f fmt.State, verb rune) { format(f, verb, m.String(), m.GoString()) }

// LogValue logs the match with the password redacted.
func (m Match) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", m.Key),
		slog.String("username", m.Username),
		slog.String("password", redacted),
		slog.String("source", m.Source),
		slog.String("normalized_key", m.NormalizedKey),
		slog.Bool("fallback", m.Fallback),
	)
}

// format writes s (or goString for %#v) honouring width and flags, for any verb, so
// that no verb falls through to fmt's field-by-field printing.
func format(f fmt.State, verb rune, s, goString string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, goString)
	case verb == 'q' || verb == 'x' || verb == 'X':
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s)
	default:
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, 's'), s)
	}
}
