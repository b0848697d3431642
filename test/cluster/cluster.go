package cluster

import (
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
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

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
	// NodeName is the node's name (default node1).
	NodeName string
	// TrustTLSRegistry makes the node trust the CA of the fixtures' TLS registry.
	// Without it, pulls from that registry fail with an unknown-authority error.
	TrustTLSRegistry bool
	// Progress receives one line per step; nothing when nil.
	Progress io.Writer
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
	// NodeName is the name of the node.
	NodeName string

	opts       Options
	ownDir     bool
	procs      []*proc
	net        *network
	state      *stateFile
	runtimeDir string
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
	if o.NodeName == "" {
		o.NodeName = "node1"
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
	nodeIP, podCIDR := node.Addr().String(), node.Masked().String()
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
	c := &Cluster{opts: opts, NodeName: opts.NodeName, Dir: opts.Dir}
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
	c.step("network: bridge %s at %s, Service range %s blackholed, forwarding out of the bridge dropped", opts.Bridge, opts.NodeCIDR, opts.ServiceCIDR)
	if c.net, err = setupNetwork(opts.Bridge, opts.NodeCIDR, opts.ServiceCIDR); err != nil {
		return nil, err
	}
	c.state.setNetwork(opts.Bridge, opts.ServiceCIDR)

	c.step("registries: open, basic auth, token auth, TLS")
	if c.Registries, err = registry.StartFixtures(ctx); err != nil {
		return nil, err
	}
	pause, err := images.Pause(ctx, "pause")
	if err != nil {
		return nil, err
	}
	if _, err := c.Registries.Open.Push(ctx, "regcred/pause:1", pause); err != nil {
		return nil, err
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
	kubelet := newIdentity("system:node:"+opts.NodeName, "system:nodes")
	kcm := newIdentity("system:kube-controller-manager")
	scheduler := newIdentity("system:kube-scheduler")
	tokens := filepath.Join(pkiDir, "tokens.csv")
	if err := writeTokenFile(tokens, admin, kubelet, kcm, scheduler); err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}

	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, kubeletPort, kubeletHealthz, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]
	server := "https://" + net.JoinHostPort(nodeIP, strconv.Itoa(apiPort))
	kubeconfigs := filepath.Join(c.Dir, "kubeconfig")
	c.Kubeconfig = filepath.Join(kubeconfigs, "admin.kubeconfig")
	for path, id := range map[string]identity{
		c.Kubeconfig: admin,
		filepath.Join(kubeconfigs, "kubelet.kubeconfig"):   kubelet,
		filepath.Join(kubeconfigs, "kcm.kubeconfig"):       kcm,
		filepath.Join(kubeconfigs, "scheduler.kubeconfig"): scheduler,
	} {
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
	if _, err := c.start(logs, "kube-controller-manager", filepath.Join(bins, "kube-controller-manager"),
		"--kubeconfig="+filepath.Join(kubeconfigs, "kcm.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(kubeconfigs, "kcm.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(kubeconfigs, "kcm.kubeconfig"),
		"--root-ca-file="+caFile, "--service-account-private-key-file="+saKey,
		"--leader-elect=false", "--use-service-account-credentials=true",
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(c.Dir, "kcm-certs"), "--v=1"); err != nil {
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

	c.step("containerd with pause image %s", c.PauseImage)
	c.runtimeDir = filepath.Join(c.Dir, "containerd")
	trusted := map[string]bool{}
	if opts.TrustTLSRegistry {
		trusted[c.Registries.TLS.Host] = true
	}
	gateway := nodeIP
	runtimeCfg, err := runtimeConfig(c.runtimeDir, opts.Bridge, podCIDR, gateway, c.PauseImage, c.Registries.All(), trusted)
	if err != nil {
		return nil, err
	}
	c.state.setRuntime(socketPath(c.runtimeDir))
	containerd, err := c.start(logs, "containerd", "/usr/bin/containerd", "--config="+runtimeCfg)
	if err != nil {
		return nil, err
	}
	if err := waitSocket(ctx, containerd, socketPath(c.runtimeDir), time.Minute); err != nil {
		return nil, err
	}

	c.step("kubelet %s at %s", opts.NodeName, nodeIP)
	kubeletDir := filepath.Join(c.Dir, "kubelet")
	kubeletCfg, err := kubeletConfig(kubeletDir, nodeIP, socketPath(c.runtimeDir), kubeletPort, kubeletHealthz)
	if err != nil {
		return nil, err
	}
	kubeletProc, err := c.start(logs, "kubelet", filepath.Join(bins, "kubelet"),
		"--config="+kubeletCfg, "--kubeconfig="+filepath.Join(kubeconfigs, "kubelet.kubeconfig"),
		"--root-dir="+filepath.Join(kubeletDir, "root"), "--cert-dir="+filepath.Join(kubeletDir, "pki"),
		"--hostname-override="+opts.NodeName, "--node-ip="+nodeIP, "--v=2")
	if err != nil {
		return nil, err
	}
	if err := c.waitNodeReady(ctx, kubeletProc, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := WaitForServiceAccount(ctx, c.Client, "default", "default"); err != nil {
		return nil, err
	}
	c.step("node %s Ready; KUBECONFIG=%s", opts.NodeName, c.Kubeconfig)
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
// kube-controller-manager, kube-scheduler, containerd, kubelet).
func (c *Cluster) LogTail(name string, lines int) string {
	return tail(filepath.Join(c.Dir, "logs", name+".log"), lines)
}

// Stop ends every process the cluster started, removes the containers, mounts,
// network settings and (unless given in Options) its folder.
func (c *Cluster) Stop() error {
	var errs []error
	// The kubelet first, so that it does not restart what is being removed.
	for i := len(c.procs) - 1; i >= 0; i-- {
		if c.procs[i].name == "kubelet" {
			errs = append(errs, c.procs[i].stop(10*time.Second))
		}
	}
	if c.runtimeDir != "" {
		errs = append(errs, killShims(socketPath(c.runtimeDir)))
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
