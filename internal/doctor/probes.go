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
