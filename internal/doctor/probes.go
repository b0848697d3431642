package doctor

import (
	"context"
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
			pc := d.creds[key(p.Namespace, p.Name)]
			if pc.broken {
				continue
			}
			for _, c := range containers(p) {
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
	var creds []*dockercfg.Credential
	for _, m := range res.Matches {
		creds = append(creds, credOf(m))
	}
	if len(creds) == 0 {
		if !d.failing(c) && !c.running {
			return nil
		}
		// Failing: what does the registry say to no credentials? Running: does it run
		// only because its node has credentials (or the image) of its own?
		creds = []*dockercfg.Credential{nil}
	}
	for _, cred := range creds {
		k := probeKey(c.image, cred)
		p, ok := d.probes[k]
		switch {
		case !ok:
			p = &probeResult{image: c.image, cred: cred}
			d.probes[k] = p
			return p
		case !p.done:
			return nil
		case p.err == nil && p.res.Outcome.Pullable():
			return nil
		}
	}
	return nil
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

func (d *diagnosis) result(image string, cred *dockercfg.Credential) (verify.Result, bool) {
	p, ok := d.probes[probeKey(image, cred)]
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
