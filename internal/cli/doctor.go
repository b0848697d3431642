package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/regcred/regcred/internal/doctor"
	"github.com/regcred/regcred/internal/keyring"
	"github.com/regcred/regcred/internal/nodeprobe"
)

// DoctorOptions are the options of `kubectl regcred doctor`.
type DoctorOptions struct {
	Targets       []string
	AllNamespaces bool
	Selector      string
	Offline       bool
	Output        string
	Filenames     []string
	ProbeNode     bool
	ProbeImage    string
	ProbeCertsDir string
	ProbeTimeout  time.Duration
	registryFlags registryFlags

	flags     *genericclioptions.ConfigFlags
	client    kubernetes.Interface
	namespace string
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
  kubectl regcred doctor -f deploy/       # manifests on disk, no cluster: a CI gate`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "every namespace")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "only pods with these labels")
	cmd.Flags().BoolVar(&o.Offline, "offline", false, "no registry traffic: static checks and the kubelet's words only")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "json")
	cmd.Flags().BoolVar(&o.ProbeNode, "probe-node", false, "for node-side failures, see the registry from each failing node with a short-lived host-network pod (needs permission to create pods; sends no credentials)")
	cmd.Flags().StringVar(&o.ProbeImage, "probe-image", "", "regcred's image for --probe-node (its entrypoint /kubectl-regcred)")
	cmd.Flags().StringVar(&o.ProbeCertsDir, "probe-certs-dir", "/etc/containerd/certs.d", "the runtime's registry configuration folder on the nodes, for --probe-node; {node} stands for the node's name")
	cmd.Flags().DurationVar(&o.ProbeTimeout, "probe-timeout", time.Minute, "time limit for each --probe-node pod, start included")
	cmd.Flags().StringArrayVarP(&o.Filenames, "filename", "f", nil, "check manifests on disk instead of the cluster (Pods, workloads, Secrets, ServiceAccounts; offline)")
	o.registryFlags.add(cmd.Flags())
	return cmd
}

// Validate checks the flags.
func (o *DoctorOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf("--output %q: doctor prints json or text", o.Output)
	}
	if o.ProbeNode && (o.ProbeImage == "" || o.Offline || len(o.Filenames) > 0) {
		return fmt.Errorf("--probe-node needs --probe-image (regcred's image, pullable by the nodes) and a cluster: it does not go with --offline or -f")
	}
	if len(o.Filenames) > 0 && (len(o.Targets) > 0 || o.AllNamespaces || o.Selector != "") {
		return fmt.Errorf("-f checks the manifests given: drop pod or workload names, -A and -l")
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

// Complete makes the client, unless manifests on disk are checked.
func (o *DoctorOptions) Complete() error {
	var err error
	if len(o.Filenames) > 0 {
		o.namespace = "default"
		if o.flags.Namespace != nil && *o.flags.Namespace != "" {
			o.namespace = *o.flags.Namespace
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
	if len(o.Filenames) > 0 {
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

// runFiles checks manifests on disk, statically.
func (o *DoctorOptions) runFiles(ctx context.Context) error {
	files := map[string][]byte{}
	for _, name := range o.Filenames {
		if err := readManifests(name, files); err != nil {
			return err
		}
	}
	snap, err := doctor.FromManifests(files, o.namespace)
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	return o.print(doctor.Diagnose(ctx, snap, doctor.Options{Static: true, Files: true}))
}

// print writes the report and turns errors into exit status 1.
func (o *DoctorOptions) print(report doctor.Report) error {
	if o.Output == "json" {
		if report.Findings == nil {
			report.Findings = []doctor.Finding{}
		}
		if err := printValue(o.Out, "json", report); err != nil {
			return err
		}
	} else {
		printDoctor(o.Out, report, colorful(o.Out))
	}
	if report.Summary.Errors > 0 {
		return failed("%d pods cannot pull their images (%d errors)", report.Summary.PodsWithErrors, report.Summary.Errors)
	}
	return nil
}

// scopes turns the targets into pod scopes: one per workload, one for named pods.
func (o *DoctorOptions) scopes(ctx context.Context) ([]doctor.Scope, error) {
	if o.AllNamespaces {
		return []doctor.Scope{{Selector: o.Selector}}, nil
	}
	if len(o.Targets) == 0 {
		return []doctor.Scope{{Namespace: o.namespace, Selector: o.Selector}}, nil
	}
	var scopes []doctor.Scope
	var pods []string
	for _, t := range o.Targets {
		kind, name, ok := strings.Cut(t, "/")
		if !ok {
			kind, name = "pod", t
		}
		if workloadKind(kind) == "pod" {
			pods = append(pods, name)
			continue
		}
		sel, tmpl, err := o.workload(ctx, workloadKind(kind), name)
		if err != nil {
			return nil, err
		}
		scopes = append(scopes, doctor.Scope{Namespace: o.namespace, Selector: sel, Template: tmpl})
	}
	if len(pods) > 0 {
		scopes = append(scopes, doctor.Scope{Namespace: o.namespace, Selector: o.Selector, Pods: pods})
	}
	return scopes, nil
}

// readManifests reads a file, or the .yaml, .yml and .json files of a folder.
func readManifests(name string, into map[string][]byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	if !st.IsDir() {
		b, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("-f: %w", err)
		}
		into[name] = b
		return nil
	}
	entries, err := os.ReadDir(name)
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		if err := readManifests(filepath.Join(name, e.Name()), into); err != nil {
			return err
		}
	}
	return nil
}

func workloadKind(kind string) string {
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		return "pod"
	case "deployment", "deployments", "deploy":
		return "deployment"
	case "statefulset", "statefulsets", "sts":
		return "statefulset"
	case "daemonset", "daemonsets", "ds":
		return "daemonset"
	}
	return ""
}

// workload returns a workload's pod selector and its template as a pod.
func (o *DoctorOptions) workload(ctx context.Context, kind, name string) (string, *corev1.Pod, error) {
	var sel *metav1.LabelSelector
	var meta metav1.ObjectMeta
	var tmpl corev1.PodTemplateSpec
	var err error
	apps := o.client.AppsV1()
	switch kind {
	case "deployment":
		var d *appsv1.Deployment
		if d, err = apps.Deployments(o.namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			sel, meta, tmpl = d.Spec.Selector, d.ObjectMeta, d.Spec.Template
		}
	case "statefulset":
		var s *appsv1.StatefulSet
		if s, err = apps.StatefulSets(o.namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			sel, meta, tmpl = s.Spec.Selector, s.ObjectMeta, s.Spec.Template
		}
	case "daemonset":
		var s *appsv1.DaemonSet
		if s, err = apps.DaemonSets(o.namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			sel, meta, tmpl = s.Spec.Selector, s.ObjectMeta, s.Spec.Template
		}
	}
	if err != nil {
		return "", nil, fmt.Errorf("get %s %s/%s: %w", kind, o.namespace, name, err)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s/%s has a selector doctor cannot use: %w", kind, o.namespace, name, err)
	}
	titled := strings.ToUpper(kind[:1]) + kind[1:]
	return s.String(), doctor.TemplatePod(titled, meta, tmpl), nil
}

func merge(a, b doctor.Report) doctor.Report {
	a.Findings = append(a.Findings, b.Findings...)
	a.Summary.Pods += b.Summary.Pods
	a.Summary.PodsWithErrors += b.Summary.PodsWithErrors
	a.Summary.Errors += b.Summary.Errors
	a.Summary.Warnings += b.Summary.Warnings
	a.Summary.Probes += b.Summary.Probes
	a.Summary.Requests += b.Summary.Requests
	if a.Summary.Codes == nil {
		a.Summary.Codes = map[doctor.Code]int{}
	}
	for k, v := range b.Summary.Codes {
		a.Summary.Codes[k] += v
	}
	return a
}

func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}

// printDoctor prints findings grouped by root cause, the cause with most pods first.
func printDoctor(w io.Writer, r doctor.Report, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	type group struct {
		code     doctor.Code
		severity doctor.Severity
		findings []doctor.Finding
		pods     map[string]bool
	}
	groups := map[string]*group{}
	var order []*group
	for _, f := range r.Findings {
		k := string(f.Severity) + "/" + string(f.Code)
		g, ok := groups[k]
		if !ok {
			g = &group{code: f.Code, severity: f.Severity, pods: map[string]bool{}}
			groups[k] = g
			order = append(order, g)
		}
		g.findings = append(g.findings, f)
		g.pods[f.Namespace+"/"+f.Pod] = true
	}
	rank := map[doctor.Severity]int{doctor.SeverityError: 0, doctor.SeverityWarning: 1, doctor.SeverityInfo: 2}
	slices.SortStableFunc(order, func(a, b *group) int {
		if rank[a.severity] != rank[b.severity] {
			return rank[a.severity] - rank[b.severity]
		}
		return len(b.pods) - len(a.pods)
	})
	for _, g := range order {
		mark := paint("31;1", "✗ error")
		if g.severity == doctor.SeverityWarning {
			mark = paint("33;1", "! warning")
		} else if g.severity == doctor.SeverityInfo {
			mark = "i info"
		}
		fmt.Fprintf(w, "%s  %s  (%d pods)\n", mark, paint("1", string(g.code)), len(g.pods))
		for _, f := range g.findings {
			where := f.Namespace + "/" + f.Pod
			if f.Container != "" {
				where += " container " + f.Container
			}
			fmt.Fprintf(w, "  %s\n", where)
			if f.Image != "" {
				fmt.Fprintf(w, "    image:    %s\n", f.Image)
			}
			switch {
			case f.SourceSecret != "":
				fmt.Fprintf(w, "    secret:   %s (a copy of %s kept by ClusterPullSecret %s)\n", f.Secret, f.SourceSecret, f.ClusterPullSecret)
			case f.ClusterPullSecret != "":
				fmt.Fprintf(w, "    secret:   %s (a copy kept by ClusterPullSecret %s)\n", f.Secret, f.ClusterPullSecret)
			case f.Secret != "":
				fmt.Fprintf(w, "    secret:   %s\n", f.Secret)
			}
			fmt.Fprintf(w, "    problem:  %s\n", f.Message)
			for i, line := range strings.Split(strings.TrimSpace(f.Evidence), "\n") {
				if line == "" {
					continue
				}
				label := "evidence: "
				if i > 0 {
					label = "          "
				}
				fmt.Fprintf(w, "    %s%s\n", label, line)
			}
			for i, fix := range f.Fix {
				label := "fix:      "
				if i > 0 {
					label = "          "
				}
				fmt.Fprintf(w, "    %s%s\n", label, paint("32", fix))
			}
		}
		fmt.Fprintln(w)
	}
	s := r.Summary
	fmt.Fprintf(w, "%d pods checked: %d with errors; %d errors, %d warnings; %d registry probes\n", s.Pods, s.PodsWithErrors, s.Errors, s.Warnings, s.Probes)
}

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
