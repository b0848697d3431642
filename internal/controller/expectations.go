package controller

import (
	"sync"
)

// expectations remember writes whose watch events have not reached the cache yet,
// so that a pair reconciled again in between neither writes twice nor reads the API
// server to find out. An entry is the resourceVersion the cache must move past (the
// one written from) or, for a create, "" meaning "until the object shows up".
type expectations struct {
	mu sync.Mutex
	m  map[string]string
}

func newExpectations() *expectations { return &expectations{m: map[string]string{}} }

// Expect records that the object at key was written from resourceVersion rv ("" for
// a create).
func (e *expectations) Expect(key, rv string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = rv
}

// Pending reports whether the cache, which holds the object at resourceVersion
// cached ("" when absent), still lags behind a write regcred made; once it has
// caught up the expectation is dropped.
func (e *expectations) Pending(key, cached string, present bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	rv, ok := e.m[key]
	if !ok {
		return false
	}
	if (rv == "" && !present) || (rv != "" && rv == cached) {
		return true
	}
	delete(e.m, key)
	return false
}
