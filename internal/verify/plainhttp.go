package verify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// PlainHTTP says when plain HTTP may be used after HTTPS finds a plain-HTTP registry.
type PlainHTTP int

const (
	// PlainHTTPLoopback allows it for registries on loopback addresses, as containerd does.
	PlainHTTPLoopback PlainHTTP = iota
	// PlainHTTPNever reports RegistryHTTPOnly for every plain-HTTP registry.
	PlainHTTPNever
	// PlainHTTPAlways allows it for any registry (the user said the registry is insecure).
	PlainHTTPAlways
)

// downgradeError is a redirect from HTTPS to plain HTTP that was not followed.
type downgradeError struct{ from, to string }

func (e *downgradeError) Error() string {
	return fmt.Sprintf("refused a redirect from HTTPS (%s) to plain HTTP (%s)", e.from, e.to)
}

// noDowngrade refuses a redirect from HTTPS to plain HTTP, which would carry the
// Authorization header (Go keeps it for the same host name on another port) or a
// token request's form with the password unencrypted.
func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if prev := via[len(via)-1]; req.URL.Scheme == "http" && prev.URL.Scheme == "https" {
		return &downgradeError{from: prev.URL.Host, to: req.URL.Host}
	}
	return nil
}

func (c *Checker) allowsPlainHTTP(host string) bool {
	switch c.PlainHTTP {
	case PlainHTTPAlways:
		return true
	case PlainHTTPNever:
		return false
	default:
		return isLoopback(host)
	}
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
