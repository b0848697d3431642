package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// clientFor returns a clientset and the namespace the kubeconfig or -n names; tune,
// when given, adjusts the client configuration first.
func clientFor(flags *genericclioptions.ConfigFlags, tune ...func(*rest.Config)) (kubernetes.Interface, string, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	for _, t := range tune {
		t(cfg)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("make Kubernetes client: %w", err)
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("read namespace from kubeconfig: %w", err)
	}
	return cs, ns, nil
}

// allNamespaces lists the names of every namespace, sorted.
func allNamespaces(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	return names, nil
}

// splitList splits comma-separated flag values and drops empty items.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// dryRunMode is the --dry-run flag, as kubectl has it.
type dryRunMode string

const (
	dryRunNone   dryRunMode = "none"
	dryRunClient dryRunMode = "client"
	dryRunServer dryRunMode = "server"
)

func parseDryRun(s string) (dryRunMode, error) {
	switch s {
	case "", "none", "false":
		return dryRunNone, nil
	case "client", "true":
		return dryRunClient, nil
	case "server":
		return dryRunServer, nil
	default:
		return "", fmt.Errorf("--dry-run %q: use none, client or server", s)
	}
}

// serverDryRun is the DryRun field of create/update options.
func (m dryRunMode) serverDryRun() []string {
	if m == dryRunServer {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// suffix is what output lines add for a dry run.
func (m dryRunMode) suffix() string {
	switch m {
	case dryRunClient:
		return " (dry run)"
	case dryRunServer:
		return " (server dry run)"
	default:
		return ""
	}
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
