package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/regcred/regcred/internal/cli"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/k8sbin"
	"github.com/regcred/regcred/test/pki"
	"github.com/regcred/regcred/test/registry"
)

// EnvKeep names an environment variable: when set, Stop leaves the cluster's folder
// (daemon logs included) in place for a look after a failure.
const EnvKeep = "REGCRED_KEEP_CLUSTER_DIR"

// Options configure a cluster. The zero value is a usable single-node cluster.
type Options struct {
	// Dir holds everything the cluster writes; a new temporary folder when empty,
	// removed by Stop.
	Dir string
	// Bridge is the name of the Linux bridge of the pod network (default regcred0).
	Bridge string
	// NodeCIDR is the node's address on the bridge with the pod subnet's length
	// (default 10.245.0.1/24). The API server listens on that address too.
	NodeCIDR string
	// ServiceCIDR is the Service range, blackholed on the host (default 10.96.0.0/12).
	ServiceCIDR string
	// Nodes is the number of nodes (default 1). Node i (from 1) is named nodeI and
	// has its own bridge (regcred0, regcred1, ...), its own /24 after NodeCIDR
	// (10.245.0.1, 10.245.1.1, ...), its own containerd and its own kubelet.
	Nodes int
	// Node holds per-node settings, by index (Node[0] is node1); missing ones are zero.
	Node []NodeOptions
	// TrustTLSRegistry makes every node trust the CA of the fixtures' TLS registry.
	// Without it, pulls from that registry fail with an unknown-authority error.
	TrustTLSRegistry bool
	// Progress receives one line per step; nothing when nil.
	Progress io.Writer
}

// NodeOptions are the settings of one node.
type NodeOptions struct {
	// LoginAs gives the node's runtime credentials of its own for the Basic and Token
	// registries: those of this fixture user (registry.UserAlice, ...), as if someone
	// had run docker login on the node. The runtime uses them when the kubelet passes
	// none.
	LoginAs string
	// TrustTLSRegistry makes this node trust the fixtures' TLS registry.
	TrustTLSRegistry bool
	// PrivateSandbox makes the node's pod sandbox image the pause image on the Basic
	// registry, which the runtime cannot pull without LoginAs.
	PrivateSandbox bool
}

// Login is a username and password.
type Login struct{ Username, Password string }

// Node is a running node.
type Node struct {
	Name, IP, Bridge string
}

// node is what Start needs of a node.
type node struct {
	Node
	cidr, podCIDR string
	opts          NodeOptions
	runtimeDir    string
	identity      identity
}

// Cluster is a running local cluster.
type Cluster struct {
	// Dir is the cluster's folder; daemon logs are in Dir/logs.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// Config is the admin client configuration, and Client a clientset for it.
	Config *rest.Config
	Client kubernetes.Interface
	// Registries are the registry fixtures the node pulls from.
	Registries *registry.Fixtures
	// PauseImage is the pod sandbox image, in Registries.Open.
	PauseImage string
	// NodeName is the name of the first node; Nodes lists them all.
	NodeName string
	Nodes    []Node

	opts   Options
	ownDir bool
	procs  []*proc
	net    *network
	state  *stateFile
	nodes  []node
}

func (o *Options) defaults() {
	if o.Bridge == "" {
		o.Bridge = "regcred0"
	}
	if o.NodeCIDR == "" {
		o.NodeCIDR = "10.245.0.1/24"
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = "10.96.0.0/12"
	}
	if o.Nodes < 1 {
		o.Nodes = 1
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Start starts a cluster and returns when its node is Ready and the default
// namespace has its ServiceAccount. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts.defaults()
	node, err := netip.ParsePrefix(opts.NodeCIDR)
	if err != nil {
		return nil, fmt.Errorf("node address %q: %w", opts.NodeCIDR, err)
	}
	nodeIP := node.Addr().String()
	if _, err := netip.ParsePrefix(opts.ServiceCIDR); err != nil {
		return nil, fmt.Errorf("service range %q: %w", opts.ServiceCIDR, err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster runs containerd, a kubelet and a bridge: run it as root")
	}
	if err := ensureHostTools(); err != nil {
		return nil, err
	}
	bins, err := k8sbin.Dir(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, Dir: opts.Dir}
	if c.nodes, err = planNodes(opts, node); err != nil {
		return nil, err
	}
	c.NodeName = c.nodes[0].Name
	for _, n := range c.nodes {
		c.Nodes = append(c.Nodes, n.Node)
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "regcred-cluster-"); err != nil {
			return nil, fmt.Errorf("make cluster folder: %w", err)
		}
		c.ownDir = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if c.state, err = claimState(opts.Bridge, c.Dir); err != nil {
		return nil, err
	}
	logs := filepath.Join(c.Dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return nil, fmt.Errorf("make log folder: %w", err)
	}
	var bridges []string
	for _, n := range c.nodes {
		bridges = append(bridges, n.Bridge)
	}
	c.step("network: bridges %v, Service range %s blackholed, forwarding out of the bridges dropped", bridges, opts.ServiceCIDR)
	c.state.setNetwork(bridges, opts.ServiceCIDR)
	if c.net, err = setupNetwork(c.nodes, opts.ServiceCIDR); err != nil {
		return nil, err
	}

	c.step("registries: open, basic auth, token auth, TLS")
	if c.Registries, err = registry.StartFixtures(ctx); err != nil {
		return nil, err
	}
	pause, err := images.Pause(ctx, "pause")
	if err != nil {
		return nil, err
	}
	for _, r := range []*registry.Registry{c.Registries.Open, c.Registries.Basic} {
		if _, err := r.Push(ctx, "regcred/pause:1", pause); err != nil {
			return nil, err
		}
	}
	c.PauseImage = c.Registries.Open.Ref("regcred/pause:1")

	// Control plane credentials.
	pkiDir := filepath.Join(c.Dir, "pki")
	ca, err := pki.NewCA("regcred local cluster CA")
	if err != nil {
		return nil, err
	}
	serving, err := ca.Serving(nodeIP, "127.0.0.1", firstServiceIP(opts.ServiceCIDR), "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost")
	if err != nil {
		return nil, err
	}
	if err := pki.WriteKeyPair(serving, filepath.Join(pkiDir, "apiserver.crt"), filepath.Join(pkiDir, "apiserver.key")); err != nil {
		return nil, err
	}
	caFile := filepath.Join(pkiDir, "ca.crt")
	if err := pki.WriteFile(caFile, ca.PEM); err != nil {
		return nil, err
	}
	saKey := filepath.Join(pkiDir, "sa.key")
	if err := writeSigningKey(saKey); err != nil {
		return nil, err
	}
	admin := newIdentity("regcred-admin", "system:masters")
	kcm := newIdentity("system:kube-controller-manager")
	scheduler := newIdentity("system:kube-scheduler")
	ids := []identity{admin, kcm, scheduler}
	for i := range c.nodes {
		c.nodes[i].identity = newIdentity("system:node:"+c.nodes[i].Name, "system:nodes")
		ids = append(ids, c.nodes[i].identity)
	}
	tokens := filepath.Join(pkiDir, "tokens.csv")
	if err := writeTokenFile(tokens, ids...); err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}

	ports, err := freePorts(5 + 2*len(c.nodes))
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	server := "https://" + net.JoinHostPort(nodeIP, strconv.Itoa(apiPort))
	kubeconfigs := filepath.Join(c.Dir, "kubeconfig")
	c.Kubeconfig = filepath.Join(kubeconfigs, "admin.kubeconfig")
	files := map[string]identity{
		c.Kubeconfig: admin,
		filepath.Join(kubeconfigs, "kcm.kubeconfig"):       kcm,
		filepath.Join(kubeconfigs, "scheduler.kubeconfig"): scheduler,
	}
	for _, n := range c.nodes {
		files[filepath.Join(kubeconfigs, n.Name+".kubeconfig")] = n.identity
	}
	for path, id := range files {
		if err := writeKubeconfig(path, server, ca.PEM, id); err != nil {
			return nil, err
		}
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, fmt.Errorf("load %s: %w", c.Kubeconfig, err)
	}
	c.Config.QPS, c.Config.Burst = 100, 200
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, fmt.Errorf("make client: %w", err)
	}

	c.step("etcd on 127.0.0.1:%d", etcdClient)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	etcd, err := c.start(logs, "etcd", filepath.Join(bins, "etcd"),
		"--name=regcred", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=regcred="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcd, etcdURL+"/health", nil, "", time.Minute); err != nil {
		return nil, err
	}

	c.step("kube-apiserver on %s", server)
	apiserver, err := c.start(logs, "kube-apiserver", filepath.Join(bins, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address="+nodeIP, "--advertise-address="+nodeIP, "--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+filepath.Join(pkiDir, "apiserver.crt"), "--tls-private-key-file="+filepath.Join(pkiDir, "apiserver.key"),
		"--client-ca-file="+caFile, "--token-auth-file="+tokens,
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey, "--service-cluster-ip-range="+opts.ServiceCIDR,
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--kubelet-preferred-address-types=InternalIP", "--allow-privileged=true",
		"--cert-dir="+filepath.Join(c.Dir, "apiserver-certs"), "--v=1")
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, apiserver, server+"/readyz", ca.PEM, admin.token, 2*time.Minute); err != nil {
		return nil, err
	}

	c.step("kube-controller-manager and kube-scheduler")
	kcmProc, err := c.start(logs, "kube-controller-manager", filepath.Join(bins, "kube-controller-manager"),
		"--kubeconfig="+filepath.Join(kubeconfigs, "kcm.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(kubeconfigs, "kcm.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(kubeconfigs, "kcm.kubeconfig"),
		"--root-ca-file="+caFile, "--service-account-private-key-file="+saKey,
		"--leader-elect=false", "--use-service-account-credentials=true",
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(c.Dir, "kcm-certs"), "--v=1")
	if err != nil {
		return nil, err
	}
	if _, err := c.start(logs, "kube-scheduler", filepath.Join(bins, "kube-scheduler"),
		"--kubeconfig="+filepath.Join(kubeconfigs, "scheduler.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(kubeconfigs, "scheduler.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(kubeconfigs, "scheduler.kubeconfig"),
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--cert-dir="+filepath.Join(c.Dir, "scheduler-certs"), "--v=1"); err != nil {
		return nil, err
	}

	var kubelets []*proc
	for i, n := range c.nodes {
		p, err := c.startNode(ctx, n, bins, logs, kubeconfigs, ports[5+2*i], ports[6+2*i])
		if err != nil {
			return nil, err
		}
		kubelets = append(kubelets, p)
	}
	for i, n := range c.nodes {
		if err := c.waitNodeReady(ctx, n.Name, kubelets[i], 2*time.Minute); err != nil {
			return nil, err
		}
	}
	if err := WaitForServiceAccount(ctx, c.Client, "default", "default"); err != nil {
		// The controller manager makes it: say what became of that.
		if kcmProc.exited() {
			return nil, fmt.Errorf("%w: %w", err, kcmProc.failure())
		}
		return nil, fmt.Errorf("%w; kube-controller-manager runs, the last lines of its log:\n%s", err, tail(kcmProc.log, 30))
	}
	c.step("%d node(s) Ready; KUBECONFIG=%s", len(c.nodes), c.Kubeconfig)
	return c, nil
}

func (c *Cluster) step(format string, args ...any) {
	fmt.Fprintf(c.opts.Progress, "cluster: "+format+"\n", args...)
}

func (c *Cluster) start(logDir, name, path string, args ...string) (*proc, error) {
	p, err := startProc(logDir, name, path, args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	c.state.addPid(p.cmd.Process.Pid)
	return p, nil
}

// LogTail returns the last lines of a daemon's log (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, containerd-nodeN, kubelet-nodeN).
func (c *Cluster) LogTail(name string, lines int) string {
	return tail(filepath.Join(c.Dir, "logs", name+".log"), lines)
}

// Stop ends every process the cluster started, removes the containers, mounts,
// network settings and (unless given in Options) its folder.
func (c *Cluster) Stop() error {
	var errs []error
	// The kubelets first, so that they do not restart what is being removed.
	for i := len(c.procs) - 1; i >= 0; i-- {
		if strings.HasPrefix(c.procs[i].name, "kubelet") {
			errs = append(errs, c.procs[i].stop(10*time.Second))
		}
	}
	for _, n := range c.nodes {
		if n.runtimeDir != "" {
			errs = append(errs, killShims(socketPath(n.runtimeDir)))
		}
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop(15*time.Second))
	}
	errs = append(errs, unmountUnder(c.Dir))
	if c.Registries != nil {
		errs = append(errs, c.Registries.Close())
	}
	if c.net != nil {
		errs = append(errs, c.net.teardown())
	}
	if c.state != nil {
		errs = append(errs, c.state.restoreHost())
	}
	if c.ownDir && os.Getenv(EnvKeep) == "" {
		errs = append(errs, os.RemoveAll(c.Dir))
	}
	if c.state != nil {
		errs = append(errs, c.state.release())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop local cluster: %w", err)
	}
	return nil
}

func writeSigningKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate service account key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode service account key: %w", err)
	}
	return pki.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// firstServiceIP is the ClusterIP of the kubernetes Service: the range's first host.
func firstServiceIP(cidr string) string {
	p := netip.MustParsePrefix(cidr)
	return p.Masked().Addr().Next().String()
}

// freePorts returns n ports free on loopback right now.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Pids returns the process ids of the daemons the cluster started.
func (c *Cluster) Pids() []int {
	pids := make([]int, 0, len(c.procs))
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// planNodes lays out the nodes: names, bridges, addresses and subnets.
func planNodes(opts Options, first netip.Prefix) ([]node, error) {
	if first.Bits() != 24 || !first.Addr().Is4() {
		return nil, fmt.Errorf("node address %q: the harness gives each node a /24 of its own; use an IPv4 /24 like 10.245.0.1/24", opts.NodeCIDR)
	}
	base := strings.TrimRight(opts.Bridge, "0123456789")
	var out []node
	for i := range opts.Nodes {
		a := first.Addr().As4()
		if int(a[2])+i > 255 {
			return nil, fmt.Errorf("node address %q leaves no room for %d nodes", opts.NodeCIDR, opts.Nodes)
		}
		a[2] += byte(i)
		addr := netip.AddrFrom4(a)
		p := netip.PrefixFrom(addr, 24)
		bridge := opts.Bridge
		if i > 0 {
			bridge = fmt.Sprintf("%s%d", base, i)
		}
		n := node{Node: Node{Name: fmt.Sprintf("node%d", i+1), IP: addr.String(), Bridge: bridge}, cidr: p.String(), podCIDR: p.Masked().String()}
		if i < len(opts.Node) {
			n.opts = opts.Node[i]
		}
		out = append(out, n)
	}
	return out, nil
}

// startNode starts one node's containerd and kubelet.
func (c *Cluster) startNode(ctx context.Context, n node, bins, logs, kubeconfigs string, port, healthz int) (*proc, error) {
	pause := c.PauseImage
	if n.opts.PrivateSandbox {
		pause = c.Registries.Basic.Ref("regcred/pause:1")
	}
	c.step("%s: containerd (sandbox image %s), kubelet at %s on %s", n.Name, pause, n.IP, n.Bridge)
	dir := filepath.Join(c.Dir, n.Name)
	for i := range c.nodes {
		if c.nodes[i].Name == n.Name {
			c.nodes[i].runtimeDir = filepath.Join(dir, "containerd")
			n.runtimeDir = c.nodes[i].runtimeDir
		}
	}
	trusted := map[string]bool{}
	if c.opts.TrustTLSRegistry || n.opts.TrustTLSRegistry {
		trusted[c.Registries.TLS.Host] = true
	}
	auth := map[string]Login{}
	if u := n.opts.LoginAs; u != "" {
		pass, ok := c.Registries.Passwords[u]
		if !ok {
			return nil, fmt.Errorf("%s: LoginAs %q is not a fixture user", n.Name, u)
		}
		for _, r := range []*registry.Registry{c.Registries.Basic, c.Registries.Token} {
			auth[r.Host] = Login{Username: u, Password: pass}
		}
	}
	cfg, err := runtimeConfig(n.runtimeDir, n.Bridge, n.podCIDR, n.IP, pause, c.Registries.All(), trusted, auth)
	if err != nil {
		return nil, err
	}
	c.state.addRuntime(socketPath(n.runtimeDir))
	containerd, err := c.start(logs, "containerd-"+n.Name, "/usr/bin/containerd", "--config="+cfg)
	if err != nil {
		return nil, err
	}
	if err := waitSocket(ctx, containerd, socketPath(n.runtimeDir), time.Minute); err != nil {
		return nil, err
	}
	kubeletDir := filepath.Join(dir, "kubelet")
	kcfg, err := kubeletConfig(kubeletDir, n.IP, socketPath(n.runtimeDir), port, healthz)
	if err != nil {
		return nil, err
	}
	return c.start(logs, "kubelet-"+n.Name, filepath.Join(bins, "kubelet"),
		"--config="+kcfg, "--kubeconfig="+filepath.Join(kubeconfigs, n.Name+".kubeconfig"),
		"--root-dir="+filepath.Join(kubeletDir, "root"), "--cert-dir="+filepath.Join(kubeletDir, "pki"),
		"--hostname-override="+n.Name, "--node-ip="+n.IP, "--v=2")
}

// CertsDirPattern is where each node's runtime keeps its registry configuration, with
// {node} for the node's name: the --probe-certs-dir of doctor --probe-node.
func (c *Cluster) CertsDirPattern() string {
	return filepath.Join(c.Dir, "{node}", "containerd", "certs.d")
}

// Regcred runs `kubectl regcred ARGS...` in-process against the cluster, with stdin,
// and returns its output and exit status.
func (c *Cluster) Regcred(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = cli.Run(genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, append([]string{"--kubeconfig", c.Kubeconfig}, args...))
	return out.String(), errOut.String(), code
}
