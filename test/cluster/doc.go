// Package cluster runs a real Kubernetes on this machine for end-to-end suites and
// the demo: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and, per
// node (one by default), a kubelet and containerd with runc and a CNI bridge of its
// own, each a child process under one temporary folder, plus the registry fixtures of
// package registry with a pause image of our own. A node can have registry
// credentials of its own (NodeOptions.LoginAs), trust the TLS registry, or have a sandbox image
// it cannot pull (NodeOptions.PrivateSandbox).
//
// Nothing leaves the machine (docs: local-cluster.md, "The network"): the node and the
// API server live on a bridge the harness makes; pods get only their subnet route (no
// default gateway, no masquerade); the Service range is blackholed on the host; nothing
// is forwarded out of the bridge. Stop undoes all of it, ends every process it
// started (by process id, and the shims and containers by containerd socket), and puts
// back what the kubelet and the runtime change on the host outside the cluster's
// folder (iptables chains, kernel settings, sockets, caches, cgroups). The daemons
// die with the harness process (Pdeathsig); a state file lets the next Start clean up
// the rest after a run that was killed before it could stop.
package cluster
