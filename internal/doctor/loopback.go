package doctor

import (
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/verify"
)

// A registry named by a loopback address (localhost:5000, 127.0.0.1:5000, [::1]:5000,
// common with kind) is the node's own loopback when the node pulls, and this
// machine's when doctor probes: another host, unless the node is this machine. Such a
// probe is not the registry's answer: it is not made, and the finding says that only a
// probe from the node (--probe-node) can see that registry.

// loopbackRegistry returns the registry of an image named by a loopback address.
func loopbackRegistry(image string) (string, bool) {
	if first, _, _ := strings.Cut(image, "/"); !strings.Contains(first, "localhost") && !strings.HasPrefix(first, "127.") && !strings.HasPrefix(first, "[") {
		return "", false // the common case, without parsing
	}
	res, err := keyring.Lookup(image, nil)
	if err != nil {
		return "", false
	}
	reg := registryOf(res.Repository)
	host := reg
	if h, _, err := net.SplitHostPort(reg); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return reg, true
	}
	ip := net.ParseIP(host)
	return reg, ip != nil && ip.IsLoopback()
}

// unprobeable reports whether a probe from this machine of the image would reach
// another host than the pod's node does: a loopback registry, on a node that is not
// known to be this machine (or, for a pod on no node yet, in a cluster whose nodes are
// not all known to be this machine).
func (d *diagnosis) unprobeable(p *corev1.Pod, image string) bool {
	if _, ok := loopbackRegistry(image); !ok {
		return false
	}
	return d.opts.LocalNode == nil || !d.opts.LocalNode(d.ctx, p.Spec.NodeName)
}

// unprobedNote is the evidence line for a registry not probed from here.
func unprobedNote(p *corev1.Pod, image string) string {
	reg, _ := loopbackRegistry(image)
	node := "its node"
	if p.Spec.NodeName != "" {
		node = "node " + p.Spec.NodeName
	}
	return fmt.Sprintf("registry: not probed from here: %s is the loopback of %s, another host than this machine's loopback; rerun with --probe-node to probe it from the node", reg, node)
}

// resultFor is the registry's answer to a probe for the pod, unless a probe from here
// cannot reach the registry the pod's node pulls from.
func (d *diagnosis) resultFor(p *corev1.Pod, id probeID) (verify.Result, bool) {
	if d.unprobeable(p, id.image) {
		return verify.Result{}, false
	}
	return d.result(id)
}

// unprobedFinding says, once, which registries of running containers were not probed.
func unprobedFinding(registries map[string]bool) []Finding {
	if len(registries) == 0 {
		return nil
	}
	var regs []string
	for r := range registries {
		regs = append(regs, r)
	}
	slices.Sort(regs)
	return []Finding{{Code: ChecksSkipped, Severity: SeverityInfo,
		Message: fmt.Sprintf("the credentials of running containers pulled from %s were not checked: that is each node's own loopback, which a probe from this machine cannot reach", strings.Join(regs, ", ")),
		Fix:     []string{"kubectl regcred verify SECRET -n NAMESPACE --image IMAGE, run on the node itself, where that address is the registry"}}}
}
