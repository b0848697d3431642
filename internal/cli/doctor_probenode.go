package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/nodeprobe"
)

// nodeSideCodes are the findings a node's own view of the registry can explain.
var nodeSideCodes = map[doctor.Code]bool{
	doctor.RegistryTLSError: true, doctor.RegistryHTTPOnly: true, doctor.RegistryUnreachable: true,
	doctor.NodeLocalCredential: true, doctor.PullFailed: true,
}

// probeNodes sees each registry from each node where a node-side failure happened, once
// per node and registry, and adds what the node saw to the findings' evidence.
func (o *DoctorOptions) probeNodes(ctx context.Context, findings []doctor.Finding) {
	type target struct{ ns, node, host string }
	seen := map[target]string{}
	for i := range findings {
		f := &findings[i]
		if !(nodeSideCodes[f.Code] || f.NodeProbe) || len(f.Nodes) != 1 || f.Nodes[0] == "" || f.Image == "" {
			continue
		}
		res, err := keyring.Lookup(f.Image, nil)
		if err != nil {
			continue
		}
		// The registry as the image names it (docker.io for Docker Hub): the name
		// containerd looks up in certs.d.
		reg, _, _ := strings.Cut(res.Repository, "/")
		t := target{f.Namespace, f.Nodes[0], reg}
		line, done := seen[t]
		if !done {
			r, err := nodeprobe.Run(ctx, o.client, t.ns, t.node, t.host, nodeprobe.Options{Image: o.ProbeImage, CertsDir: o.ProbeCertsDir, Timeout: o.ProbeTimeout})
			if err != nil {
				line = fmt.Sprintf("probe from %s unavailable: %v", t.node, err)
			} else {
				line = fmt.Sprintf("probe from %s (anonymous): %s: %s", t.node, r.Result.Outcome, r.Result.Detail)
			}
			seen[t] = line
		}
		f.Evidence = strings.TrimSpace(f.Evidence + "\n" + line)
	}
}
