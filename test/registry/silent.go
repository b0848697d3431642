package registry

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Silent is a registry host that does not answer: a loopback listener that accepts
// connections and never writes a byte, as a host whose firewall swallows the
// packets after the handshake, or a registry stuck in its own troubles.
type Silent struct {
	// Host is HOST:PORT as it appears in image references.
	Host string

	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

// StartSilent starts a silent host on 127.0.0.1.
func StartSilent() (*Silent, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start silent host: %w", err)
	}
	s := &Silent{Host: ln.Addr().String(), ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c) // held open, never answered
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// Accepted is the number of connections accepted so far.
func (s *Silent) Accepted() int64 { return s.accepted.Load() }

// Close stops listening and closes the connections held.
func (s *Silent) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	return err
}
