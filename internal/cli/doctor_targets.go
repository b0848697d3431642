package cli

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/internal/doctor"
)

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
