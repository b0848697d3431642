package cli

import (
	"context"
	"net"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/serviceaccount"
)

// clusterLookups gives doctor what it reads only for some pods: the owners' templates
// (for fixes) and whether a node is this machine (for loopback registries).
func clusterLookups(cs kubernetes.Interface, opts *doctor.Options) {
	recreators := serviceaccount.NewRecreators(cs)
	opts.Recreator = func(ctx context.Context, p *corev1.Pod) (serviceaccount.Recreator, error) {
		return recreators.For(ctx, p)
	}
	var mu sync.Mutex
	local := map[string]bool{}
	opts.LocalNode = func(ctx context.Context, node string) bool {
		mu.Lock()
		defer mu.Unlock()
		if v, ok := local[node]; ok {
			return v
		}
		if node == "" {
			local[node] = allNodesAreThisMachine(ctx, cs)
		} else {
			local[node] = nodeIsThisMachine(ctx, cs, node)
		}
		return local[node]
	}
}

// allNodesAreThisMachine reports whether the cluster has nodes and every one is this
// machine, so that a pod not scheduled yet will share this machine's loopback.
func allNodesAreThisMachine(ctx context.Context, cs kubernetes.Interface) bool {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		return false
	}
	for i := range nodes.Items {
		if !isThisMachine(&nodes.Items[i]) {
			return false
		}
	}
	return true
}

// nodeIsThisMachine reports whether one of the node's addresses is an address of this
// machine's network interfaces: the node then shares this machine's loopback. A node
// that cannot be read is not.
func nodeIsThisMachine(ctx context.Context, cs kubernetes.Interface, name string) bool {
	node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	return isThisMachine(node)
}

// isThisMachine reports whether one of the node's addresses is an address of this
// machine's network interfaces.
func isThisMachine(node *corev1.Node) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
			continue
		}
		ip := net.ParseIP(a.Address)
		if ip == nil || ip.IsLoopback() {
			continue // a node that says 127.0.0.1 says nothing of where it is
		}
		for _, la := range addrs {
			if n, ok := la.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}
