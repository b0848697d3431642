package verify

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
)

// Hosts remembers, for one run, the hosts (registries and token servers) that did
// not answer: the name did not resolve, the connection was not opened, the TLS
// handshake or the answer did not come in time. Every later request to such a host
// fails at once with the same error, marked as remembered, so a dead registry costs
// one time-out per run however many images it serves. While the first request to a
// host is under way, the others to it wait for its outcome instead of each
// waiting out a time-out of their own. Only unreachability is remembered: what a host
// answers (a refusal, an error, a certificate it shows) is asked again each time.
// A request given up by its caller teaches nothing. The zero value is ready; share
// one between the checks of a run (Checker.Hosts). A nil *Hosts remembers nothing.
type Hosts struct {
	mu    sync.Mutex
	hosts map[string]*hostState
}

type hostState struct {
	// settled is closed when the first request to the host has an outcome.
	settled chan struct{}
	// down is the error of the request that found the host unreachable.
	down error
}

// RememberedError is the error a request gets at once for a host found unreachable
// earlier in the run. It wraps that first error.
type RememberedError struct {
	Host string
	Err  error
}

func (e *RememberedError) Error() string {
	return e.Host + " was found unreachable earlier in this run and was not asked again: " + e.Err.Error()
}

func (e *RememberedError) Unwrap() error { return e.Err }

// send runs fn, a request to host, unless the host is known to be unreachable.
func (h *Hosts) send(ctx context.Context, host string, fn func() (*response, error)) (*response, error) {
	if h == nil {
		return fn()
	}
	for {
		h.mu.Lock()
		if h.hosts == nil {
			h.hosts = map[string]*hostState{}
		}
		s, known := h.hosts[host]
		if !known {
			// The first request to the host: the others wait for its outcome.
			s = &hostState{settled: make(chan struct{})}
			h.hosts[host] = s
			h.mu.Unlock()
			resp, err := fn()
			h.mu.Lock()
			switch {
			case err == nil || !unreachable(err) || !failedAt(err, host):
			case ctx.Err() != nil:
				delete(h.hosts, host) // given up by the caller: the next request asks afresh
			default:
				s.down = err
			}
			close(s.settled)
			h.mu.Unlock()
			return resp, err
		}
		h.mu.Unlock()
		select {
		case <-s.settled:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		h.mu.Lock()
		down, current := s.down, h.hosts[host] == s
		h.mu.Unlock()
		if !current {
			continue // the first request was given up: ask again
		}
		if down != nil {
			return nil, &RememberedError{Host: host, Err: down}
		}
		resp, err := fn()
		if err != nil && unreachable(err) && failedAt(err, host) && ctx.Err() == nil {
			h.mu.Lock()
			if s.down == nil {
				s.down = err // it answered before and does not now
			}
			h.mu.Unlock()
		}
		return resp, err
	}
}

// unreachable reports whether a request failed for want of an answer: name
// resolution, dialing, or a time-out (TLS handshake or response).
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") || isTimeout(err) || errors.Is(err, context.DeadlineExceeded)
}

// failedAt reports whether the request that failed went to host: a redirect the
// client followed to another host that does not answer says nothing of host.
func failedAt(err error, host string) bool {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return true
	}
	u, perr := url.Parse(ue.URL)
	return perr != nil || u.Host == host
}
