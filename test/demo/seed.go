package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/regcred/regcred/test/cluster"
	"github.com/regcred/regcred/test/images"
	"github.com/regcred/regcred/test/registry"
	"github.com/regcred/regcred/test/workload"
)

// scenario is one namespace of the demo: how it is set up and the state its pod ends in.
type scenario struct {
	namespace string
	story     string
	want      string // Running, or the container's waiting reason
	setup     func(ctx context.Context, c *cluster.Cluster, ns, image string) error
}

type result struct {
	scenario
	pod string
	err error
}

func scenarios(c *cluster.Cluster) []scenario {
	alice := registry.UserAlice
	return []scenario{
		{"demo-healthy", "pull Secret in the namespace, attached to the default ServiceAccount", "Running",
			func(ctx context.Context, c *cluster.Cluster, ns, image string) error {
				reg := c.Registries.Basic
				if err := workload.PullSecret(ctx, c.Client, ns, "regcred", reg.Host, alice, c.Registries.Passwords[alice]); err != nil {
					return err
				}
				if err := workload.AttachToServiceAccount(ctx, c.Client, ns, "default", "regcred"); err != nil {
					return err
				}
				return workload.Deployment(ctx, c.Client, ns, "web", image)
			}},
		{"demo-wrong-namespace", "pod names Secret regcred, which exists only in demo-healthy", "ImagePullBackOff",
			func(ctx context.Context, c *cluster.Cluster, ns, image string) error {
				return workload.Deployment(ctx, c.Client, ns, "api", image, "regcred")
			}},
		{"demo-wrong-host", "Secret written for host 127.0.0.1, image on " + c.Registries.Basic.Host, "ImagePullBackOff",
			func(ctx context.Context, c *cluster.Cluster, ns, image string) error {
				if err := workload.PullSecret(ctx, c.Client, ns, "regcred", "127.0.0.1", alice, c.Registries.Passwords[alice]); err != nil {
					return err
				}
				return workload.Deployment(ctx, c.Client, ns, "worker", image, "regcred")
			}},
		{"demo-wrong-password", "Secret with a password the registry rejects", "ImagePullBackOff",
			func(ctx context.Context, c *cluster.Cluster, ns, image string) error {
				reg := c.Registries.Basic
				if err := workload.PullSecret(ctx, c.Client, ns, "regcred", reg.Host, alice, "not-the-password"); err != nil {
					return err
				}
				return workload.Deployment(ctx, c.Client, ns, "billing", image, "regcred")
			}},
	}
}

// seed pushes the demo image, sets up every scenario, and waits for each pod to reach
// its expected state. It returns the image the workloads run.
func seed(ctx context.Context, c *cluster.Cluster) ([]result, string, error) {
	img, err := images.Pause(ctx, "demo")
	if err != nil {
		return nil, "", err
	}
	if _, err := c.Registries.Basic.Push(ctx, "team/app:v1", img); err != nil {
		return nil, "", err
	}
	image := c.Registries.Basic.Ref("team/app:v1")
	var results []result
	for _, s := range scenarios(c) {
		if err := workload.Namespace(ctx, c.Client, s.namespace); err != nil {
			return nil, "", err
		}
		if err := s.setup(ctx, c, s.namespace, image); err != nil {
			return nil, "", fmt.Errorf("set up %s: %w", s.namespace, err)
		}
	}
	for _, s := range scenarios(c) {
		cond := cluster.PodRunning
		if s.want != "Running" {
			cond = cluster.PodWaiting(s.want)
		}
		p, err := cluster.WaitForPodSelected(ctx, c.Client, s.namespace, "app", cond)
		r := result{scenario: s, err: err}
		if p != nil {
			r.pod = p.Name
		}
		results = append(results, r)
	}
	return results, image, nil
}

func printResults(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tPOD\tSTATE\tWHY")
	for _, r := range results {
		state := r.want
		if r.err != nil {
			state = "unexpected: " + r.err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.namespace, r.pod, state, r.story)
	}
	tw.Flush()
}
