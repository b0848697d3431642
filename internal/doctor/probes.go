package doctor

import (
	"context"
	"strings"
	"sync"

	"github.com/regcred/regcred/internal/dockercfg"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/verify"
)

type probeResult struct {
	image string
	cred  *dockercfg.Credential
	res   verify.Result
	err   error
	done  bool
}

// probeKey identifies a probe; the password takes part only base64-encoded with the
// user, as in an auth field, and the key is never printed.
func probeKey(image string, cred *dockercfg.Credential) string {
	if cred == nil {
		return image + "\x00anonymous"
	}
	return image + "\x00" + dockercfg.EncodeAuth(cred.Username, cred.Password)
}

// probeID identifies a probe of one diagnosis as probeKey does, without building a
// string for each container that asks: the image and the "user:password" the auth
// field carries, cut at its first colon, or anonymous.
type probeID struct {
	image, username, password string
	anonymous                 bool
}

// matchProbe is the probe of the image with a match's credential.
func matchProbe(image string, m *keyring.Match) probeID {
	user, password := m.Username, m.Password
	if u, rest, ok := strings.Cut(user, ":"); ok {
		user, password = u, rest+":"+password
	}
	return probeID{image: image, username: user, password: password}
}

// anonymousProbe is the probe of the image without credentials.
func anonymousProbe(image string) probeID { return probeID{image: image, anonymous: true} }

// probe asks the registries in rounds, as the kubelet tries credentials: first each
// container's first matching credential (or anonymous when none matches), then the
// next credential only where the previous one failed. Probes are distinct per image and
// credential, and run concurrently within a round.
func (d *diagnosis) probe(ctx context.Context) {
	if d.opts.Probe == nil {
		return
	}
	for {
		var round []*probeResult
		for i := range d.snap.Pods {
			p := &d.snap.Pods[i]
			pc := d.podCreds[i]
			if pc.broken {
				continue
			}
			for _, c := range d.containers[i] {
				if d.unprobeable(p, c.image) {
					continue // this machine's loopback is not the node's
				}
				if next := d.nextProbe(c, pc); next != nil {
					round = append(round, next)
				}
			}
		}
		if len(round) == 0 {
			return
		}
		d.run(ctx, round)
	}
}

// nextProbe returns the container's next probe to run, registering it, or nil when
// there is none this round: its answer is known (a credential worked, all were tried)
// or a probe it waits for is under way.
func (d *diagnosis) nextProbe(c container, pc podCreds) *probeResult {
	res, err := pc.lookup(c.image)
	if err != nil {
		return nil
	}
	if len(res.Matches) == 0 {
		if !d.failing(c) && !c.running {
			return nil
		}
		// Failing: what does the registry say to no credentials? Running: does it run
		// only because its node has credentials (or the image) of its own?
		p, _ := d.next(anonymousProbe(c.image), nil)
		return p
	}
	for i := range res.Matches {
		m := &res.Matches[i]
		if p, stop := d.next(matchProbe(c.image, m), m); stop {
			return p
		}
	}
	return nil
}

// next is the probe to run for id, registering it, and whether the container's probes
// stop there this round: id is new, or under way, or its credential worked. m is the
// match of the credential, nil for an anonymous probe.
func (d *diagnosis) next(id probeID, m *keyring.Match) (*probeResult, bool) {
	p, ok := d.probes[id]
	switch {
	case !ok:
		p = &probeResult{image: id.image}
		if m != nil {
			p.cred = credOf(*m)
		}
		d.probes[id] = p
		return p, true
	case !p.done:
		return nil, true
	case p.err == nil && p.res.Outcome.Pullable():
		return nil, true
	}
	return nil, false
}

func (d *diagnosis) run(ctx context.Context, round []*probeResult) {
	n := d.opts.Concurrency
	if n <= 0 {
		n = 8
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, p := range round {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.res, p.err = d.opts.Probe(ctx, p.image, p.cred)
		}()
	}
	wg.Wait()
	for _, p := range round {
		p.done = true
	}
}

func (d *diagnosis) result(id probeID) (verify.Result, bool) {
	p, ok := d.probes[id]
	if !ok || !p.done || p.err != nil {
		return verify.Result{}, false
	}
	return p.res, true
}

func credOf(m keyring.Match) *dockercfg.Credential {
	return &dockercfg.Credential{Username: m.Username, Password: m.Password}
}

// RegistryProbe returns the Probe of one doctor run, to share between every Diagnose
// of the run (pods and workload templates alike): each distinct image and credential
// is asked once, and later or concurrent asks share the answer; at most concurrency
// probes (default 8) are under way at once across all of them; and the checker
// remembers the hosts that did not answer, so a dead registry costs about one
// time-out for the whole run. It gives the checker one connection pool and one
// memory of unreachable hosts when it has none.
func RegistryProbe(checker *verify.Checker, concurrency int) Probe {
	if concurrency <= 0 {
		concurrency = 8
	}
	if checker.Transport == nil {
		checker.Transport = checker.NewTransport()
	}
	if checker.Hosts == nil {
		checker.Hosts = &verify.Hosts{}
	}
	type answer struct {
		done chan struct{}
		res  verify.Result
		err  error
	}
	var mu sync.Mutex
	answers := map[string]*answer{}
	sem := make(chan struct{}, concurrency)
	return func(ctx context.Context, image string, cred *dockercfg.Credential) (verify.Result, error) {
		k := probeKey(image, cred)
		mu.Lock()
		a, asked := answers[k]
		if !asked {
			a = &answer{done: make(chan struct{})}
			answers[k] = a
		}
		mu.Unlock()
		if asked {
			select {
			case <-a.done:
				return a.res, a.err
			case <-ctx.Done():
				return verify.Result{}, ctx.Err()
			}
		}
		defer close(a.done)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			a.err = ctx.Err()
			return a.res, a.err
		}
		defer func() { <-sem }()
		a.res, a.err = checker.Check(ctx, image, cred, false)
		return a.res, a.err
	}
}
