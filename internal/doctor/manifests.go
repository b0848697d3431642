package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// FromManifests builds a snapshot from manifest files (YAML or JSON, several
// documents each, kind: List too): Pods, the pod templates of Deployments,
// StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs, Secrets and
// ServiceAccounts. Objects without a namespace go to defaultNamespace. Pods made from
// templates carry the workload's name and the template's own list; Diagnose adds what
// admission would copy.
func FromManifests(files map[string][]byte, defaultNamespace string) (*Snapshot, error) {
	s := &Snapshot{ServiceAccounts: map[string]*corev1.ServiceAccount{}, Secrets: map[string]*corev1.Secret{}, Events: map[string][]corev1.Event{}, Elsewhere: map[string][]string{}}
	var templates []*corev1.Pod
	for name, data := range files {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for doc := 1; ; doc++ {
			var raw map[string]any
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s, document %d: %w", name, doc, err)
			}
			if raw == nil {
				continue
			}
			items := []any{raw}
			if raw["kind"] == "List" {
				items, _ = raw["items"].([]any)
			}
			for _, it := range items {
				pods, err := s.add(it, defaultNamespace)
				if err != nil {
					return nil, fmt.Errorf("%s, document %d: %w", name, doc, err)
				}
				templates = append(templates, pods...)
			}
		}
	}
	for _, p := range templates {
		s.Pods = append(s.Pods, *p)
	}
	return s, nil
}

// add decodes one object; it returns the pods it describes.
func (s *Snapshot) add(obj any, defaultNamespace string) ([]*corev1.Pod, error) {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return nil, err
	}
	ns := func(m *metav1.ObjectMeta) {
		if m.Namespace == "" {
			m.Namespace = defaultNamespace
		}
	}
	fromTemplate := func(m metav1.ObjectMeta, t corev1.PodTemplateSpec) []*corev1.Pod {
		ns(&m)
		return []*corev1.Pod{TemplatePod(meta.Kind, m, t)}
	}
	switch meta.Kind {
	case "Pod":
		var p corev1.Pod
		if err := yaml.Unmarshal(b, &p); err != nil {
			return nil, err
		}
		ns(&p.ObjectMeta)
		return []*corev1.Pod{&p}, nil
	case "Deployment":
		var d appsv1.Deployment
		if err := yaml.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		return fromTemplate(d.ObjectMeta, d.Spec.Template), nil
	case "StatefulSet":
		var d appsv1.StatefulSet
		if err := yaml.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		return fromTemplate(d.ObjectMeta, d.Spec.Template), nil
	case "DaemonSet":
		var d appsv1.DaemonSet
		if err := yaml.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		return fromTemplate(d.ObjectMeta, d.Spec.Template), nil
	case "ReplicaSet":
		var d appsv1.ReplicaSet
		if err := yaml.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		return fromTemplate(d.ObjectMeta, d.Spec.Template), nil
	case "Job":
		var d batchv1.Job
		if err := yaml.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		return fromTemplate(d.ObjectMeta, d.Spec.Template), nil
	case "CronJob":
		var d batchv1.CronJob
		if err := yaml.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		return fromTemplate(d.ObjectMeta, d.Spec.JobTemplate.Spec.Template), nil
	case "Secret":
		var sec corev1.Secret
		if err := yaml.Unmarshal(b, &sec); err != nil {
			return nil, err
		}
		ns(&sec.ObjectMeta)
		for k, v := range sec.StringData {
			if sec.Data == nil {
				sec.Data = map[string][]byte{}
			}
			sec.Data[k] = []byte(v)
		}
		s.Secrets[key(sec.Namespace, sec.Name)] = &sec
	case "ServiceAccount":
		var sa corev1.ServiceAccount
		if err := yaml.Unmarshal(b, &sa); err != nil {
			return nil, err
		}
		ns(&sa.ObjectMeta)
		s.ServiceAccounts[key(sa.Namespace, sa.Name)] = &sa
	}
	return nil, nil
}

// TemplatePod is a workload's pod template as the pod it would create, named KIND/NAME.
func TemplatePod(kind string, workload metav1.ObjectMeta, t corev1.PodTemplateSpec) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: kind + "/" + workload.Name, Namespace: workload.Namespace}, Spec: t.Spec}
}
