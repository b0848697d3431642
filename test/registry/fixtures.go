package registry

import (
	"context"
	"errors"
)

// Fixture users. Their passwords are made anew for every set of fixtures.
const (
	// UserAlice may pull everything from Basic, and team/* from Token.
	UserAlice = "alice"
	// UserBob is a valid user of Basic and Token with no pull right on Token.
	UserBob = "bob"
)

// Fixtures is the set of registries the end-to-end suites and the demo share.
type Fixtures struct {
	// Open allows anonymous pull and push; it holds the pause image.
	Open *Registry
	// Basic is htpasswd Basic auth for UserAlice and UserBob.
	Basic *Registry
	// Token is Bearer token auth: UserAlice may pull team/*, UserBob nothing, anyone public/*.
	Token *Registry
	// TLS is anonymous over HTTPS with a certificate from a CA of its own.
	TLS *Registry
	// Passwords of UserAlice and UserBob.
	Passwords map[string]string
}

// StartFixtures starts the four registries of Fixtures on loopback.
func StartFixtures(ctx context.Context) (_ *Fixtures, err error) {
	f := &Fixtures{Passwords: map[string]string{UserAlice: randomHex(12), UserBob: randomHex(12)}}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Close())
		}
	}()
	if f.Open, err = Start(ctx, Options{}); err != nil {
		return nil, err
	}
	if f.Basic, err = Start(ctx, Options{Auth: AuthBasic, Users: f.Passwords}); err != nil {
		return nil, err
	}
	if f.Token, err = Start(ctx, Options{
		Auth:   AuthToken,
		Users:  f.Passwords,
		Pull:   map[string][]string{UserAlice: {"team/*"}},
		Public: []string{"public/*"},
	}); err != nil {
		return nil, err
	}
	if f.TLS, err = Start(ctx, Options{TLS: true}); err != nil {
		return nil, err
	}
	return f, nil
}

// All returns the running registries.
func (f *Fixtures) All() []*Registry {
	var all []*Registry
	for _, r := range []*Registry{f.Open, f.Basic, f.Token, f.TLS} {
		if r != nil {
			all = append(all, r)
		}
	}
	return all
}

// Close stops every registry.
func (f *Fixtures) Close() error {
	var errs []error
	for _, r := range f.All() {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}
