package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// isHTTPResponseToHTTPS reports whether an HTTPS request reached a plain-HTTP server.
func isHTTPResponseToHTTPS(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// classifyTransport turns a failed request into an outcome with its evidence.
func classifyTransport(res Result, err error) Result {
	var remembered *RememberedError
	if errors.As(err, &remembered) {
		res = classifyTransport(res, remembered.Err)
		res.Detail += " (remembered: " + remembered.Host + " did not answer an earlier request of this run, so it was not asked again)"
		return res
	}
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dns *net.DNSError
	var alert tls.AlertError
	var downgrade *downgradeError
	switch {
	case errors.As(err, &downgrade):
		res.Outcome, res.Detail = RegistryError, downgrade.Error()+": not followed, so nothing was sent over plain HTTP"
	case errors.As(err, &unknown):
		res.Outcome, res.TLSProblem = RegistryTLSError, "unknown authority"
		res.Detail = "x509: certificate signed by unknown authority: this machine does not trust the registry's CA"
	case errors.As(err, &hostname):
		res.Outcome, res.TLSProblem = RegistryTLSError, "name mismatch"
		res.Detail = hostname.Error()
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		res.Outcome, res.TLSProblem = RegistryTLSError, "expired"
		res.Detail = invalid.Error()
	case errors.As(err, &invalid):
		res.Outcome, res.TLSProblem = RegistryTLSError, "invalid"
		res.Detail = invalid.Error()
	case errors.As(err, &alert) || strings.Contains(err.Error(), "tls: "):
		res.Outcome, res.TLSProblem = RegistryTLSError, "handshake failed"
		res.Detail = "TLS handshake with " + res.Registry + " failed: " + redactURLs(err.Error())
	case errors.As(err, &dns):
		res.Outcome, res.Detail = RegistryUnreachable, "no such host: "+dns.Name
	case errors.Is(err, syscall.ECONNREFUSED):
		res.Outcome, res.Detail = RegistryUnreachable, "connection refused by "+res.Registry
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		res.Outcome, res.Detail = RegistryUnreachable, "timeout: "+res.Registry+" did not answer in time"
	case errors.Is(err, context.Canceled):
		res.Outcome, res.Detail = RegistryUnreachable, "canceled before the registry answered"
	default:
		res.Outcome, res.Detail = RegistryUnreachable, redactURLs(err.Error())
	}
	return res
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redactURLs drops query strings from URLs in an error text: a token realm's query
// carries no secret, but a redirect target might.
func redactURLs(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		if strings.Contains(f, "://") {
			if q := strings.IndexByte(f, '?'); q >= 0 {
				fields[i] = f[:q] + "?REDACTED"
			}
		}
	}
	return strings.Join(fields, " ")
}
