package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/regcred/regcred/internal/doctor"
)

// DoctorOptions are the options of `kubectl regcred doctor`.
type DoctorOptions struct {
	Targets       []string
	AllNamespaces bool
	Selector      string
	Offline       bool
	output        viewOutput
	files         resource.FilenameOptions
	ProbeNode     bool
	ProbeImage    string
	ProbeCertsDir string
	ProbeTimeout  time.Duration
	registryFlags registryFlags

	flags            *genericclioptions.ConfigFlags
	client           kubernetes.Interface
	namespace        string
	enforceNamespace bool // -n given with -f: objects in another namespace are an error, as in kubectl
	genericiooptions.IOStreams
}

// NewCmdDoctor returns `kubectl regcred doctor`.
func NewCmdDoctor(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DoctorOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "doctor [pod/NAME | deploy/NAME | sts/NAME | ds/NAME | NAME ...] [-n NS | -A] [-l SELECTOR]",
		Short: "Explain why pods cannot pull their images, and print the fix",
		Long: `Look at pods as the kubelet does: which pull Secrets apply (the pod's, and whether its
ServiceAccount's were ever copied in), whether their keys match each image, what the
registry answers to those credentials right now, and what the kubelet said. Every
problem is reported once, with its root cause, the evidence and the command that
fixes it. Running pods whose credentials no longer work are warned about before
their next pull fails.

Exit status: 0 when no finding is an error, 1 when one is, 2 when doctor could not run.`,
		Example: `  kubectl regcred doctor -n team-a
  kubectl regcred doctor deploy/web -n team-a
  kubectl regcred doctor -A -o json
  kubectl regcred doctor -A --offline     # no registry traffic
  kubectl regcred doctor -f deploy/ -R    # manifests on disk, no cluster: a CI gate
  kustomize build overlays/prod | kubectl regcred doctor -f -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "every namespace")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "only pods with these labels")
	cmd.Flags().BoolVar(&o.Offline, "offline", false, "no registry traffic: static checks and the kubelet's words only")
	o.output.addFlag(cmd.Flags(), "doctor", "the findings and the summary")
	cmd.Flags().BoolVar(&o.ProbeNode, "probe-node", false, "for node-side failures, see the registry from each failing node with a short-lived host-network pod (needs permission to create pods; sends no credentials)")
	cmd.Flags().StringVar(&o.ProbeImage, "probe-image", "", "regcred's image for --probe-node (its entrypoint /kubectl-regcred)")
	cmd.Flags().StringVar(&o.ProbeCertsDir, "probe-certs-dir", "/etc/containerd/certs.d", "the runtime's registry configuration folder on the nodes, for --probe-node; {node} stands for the node's name")
	cmd.Flags().DurationVar(&o.ProbeTimeout, "probe-timeout", time.Minute, "time limit for each --probe-node pod, start included")
	fileFlags := genericclioptions.FileNameFlags{Usage: "check manifests instead of the cluster, offline: files, folders (their .yaml, .yml and .json files; -R for subfolders) or - for standard input",
		Filenames: &o.files.Filenames, Recursive: &o.files.Recursive}
	fileFlags.AddFlags(cmd.Flags())
	o.registryFlags.add(cmd.Flags())
	return cmd
}

// Validate checks the flags.
func (o *DoctorOptions) Validate() error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.ProbeNode && (o.ProbeImage == "" || o.Offline || len(o.files.Filenames) > 0) {
		return fmt.Errorf("--probe-node needs --probe-image (regcred's image, pullable by the nodes) and a cluster: it does not go with --offline or -f")
	}
	if err := o.validateFiles(); err != nil {
		return err
	}
	if o.AllNamespaces && len(o.Targets) > 0 {
		return fmt.Errorf("name pods or workloads in one namespace (-n), or use -A without names")
	}
	for _, t := range o.Targets {
		if kind, _, ok := strings.Cut(t, "/"); ok && workloadKind(kind) == "" {
			return fmt.Errorf("target %q: doctor looks at pod/NAME, deploy/NAME, sts/NAME, ds/NAME or a pod NAME", t)
		}
	}
	return nil
}

// Complete takes the targets and makes the client, unless manifests on disk are
// checked.
func (o *DoctorOptions) Complete(targets []string) error {
	o.Targets = targets
	var err error
	if len(o.files.Filenames) > 0 {
		o.namespace, o.enforceNamespace = "default", false
		if o.flags.Namespace != nil && *o.flags.Namespace != "" {
			o.namespace, o.enforceNamespace = *o.flags.Namespace, true
		}
		return nil
	}
	o.client, o.namespace, err = clientFor(o.flags, pagedListRate)
	return err
}

// pagedListRate lets doctor's client send its list pages unthrottled. doctor sends one
// request at a time (page after page, then one get after another), so client-go's
// default token bucket, 5 requests a second after a burst of 10, only adds waiting:
// doctor -A over 50,000 pods sends about 135 requests, 25 s of waiting at that rate.
// A burst of 300 covers such a run; 50 a second still bounds a run gone wrong, and the
// API server's own priority and fairness decides the rest.
func pagedListRate(cfg *rest.Config) {
	cfg.QPS, cfg.Burst = 50, 300
}

// Run gathers, diagnoses and prints.
func (o *DoctorOptions) Run(ctx context.Context) error {
	if len(o.files.Filenames) > 0 {
		return o.runFiles(ctx)
	}
	scopes, err := o.scopes(ctx)
	if err != nil {
		return err
	}
	doctor.CollectSooner()
	var opts doctor.Options
	clusterLookups(o.client, &opts)
	if !o.Offline {
		checker, err := o.registryFlags.checker()
		if err != nil {
			return err
		}
		// One probe for the run: answers, the bound on concurrency and the memory of
		// unreachable registries are shared by every scope.
		opts.Probe = doctor.RegistryProbe(checker, 0)
	}
	var report doctor.Report
	var diagnoses []func() doctor.Report
	var seen map[string]bool // pods already checked, when targets may overlap
	if len(scopes) > 1 {
		seen = map[string]bool{}
	}
	for _, sc := range scopes {
		snap, err := doctor.Gather(ctx, o.client, sc)
		if err != nil {
			return err
		}
		for _, name := range sc.Pods {
			if !slices.ContainsFunc(snap.Pods, func(p corev1.Pod) bool { return p.Name == name }) {
				return fmt.Errorf("pod %s not found in namespace %s", name, o.namespace)
			}
		}
		// Targets may overlap (a pod and its Deployment): each pod is checked once.
		if seen != nil {
			snap.Pods = slices.DeleteFunc(snap.Pods, func(p corev1.Pod) bool {
				k := p.Namespace + "/" + p.Name
				dup := seen[k]
				seen[k] = true
				return dup
			})
		}
		dopts := opts
		if len(snap.Pods) == 0 && sc.Template != nil {
			// No pod to look at: check the template as the pod it would create.
			snap.Pods, dopts.Static = []corev1.Pod{*sc.Template}, true
		}
		diagnoses = append(diagnoses, func() doctor.Report { return doctor.Diagnose(ctx, snap, dopts) })
	}
	// Scopes are diagnosed together, so that their probes run under the one bound.
	reports := make([]doctor.Report, len(diagnoses))
	var wg sync.WaitGroup
	for i, diagnose := range diagnoses {
		wg.Go(func() { reports[i] = diagnose() })
	}
	wg.Wait()
	for _, r := range reports {
		report = merge(report, r)
	}
	if o.ProbeNode {
		o.probeNodes(ctx, report.Findings)
	}
	return o.print(report)
}
