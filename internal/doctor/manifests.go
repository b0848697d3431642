package doctor

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Manifests builds a snapshot from objects read from manifests (kubectl's resource
// builder reads them: files, folders, standard input): Pods, the pod templates of
// Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and
// CronJobs, Secrets and ServiceAccounts. Objects without a namespace go to the default
// namespace. Pods made from templates carry the workload's name and the template's own
// list; Diagnose adds what admission would copy. Objects of other kinds are counted,
// not checked.
type Manifests struct {
	snap             *Snapshot
	defaultNamespace string
	onlyNamespace    bool           // an object in another namespace is an error
	skipped          map[string]int // kind (with its group) of what was not checked
}

// NewManifests returns an empty set; objects without a namespace go to defaultNamespace.
// With only, an object in another namespace is an error, as with kubectl -f -n NS.
func NewManifests(defaultNamespace string, only bool) *Manifests {
	return &Manifests{
		snap:             &Snapshot{ServiceAccounts: map[string]*corev1.ServiceAccount{}, Secrets: map[string]*corev1.Secret{}, Events: map[string][]corev1.Event{}, Elsewhere: map[string][]string{}},
		defaultNamespace: defaultNamespace,
		onlyNamespace:    only,
		skipped:          map[string]int{},
	}
}

// Add takes one object as a decoder reads it from a manifest: a List's items one by one,
// a kind doctor checks as that kind's Go type. The error says what in the object is
// wrong; the caller names the file.
func (m *Manifests) Add(obj runtime.Unstructured) error {
	switch obj := obj.(type) {
	case *unstructured.UnstructuredList:
		for i := range obj.Items {
			if err := m.Add(&obj.Items[i]); err != nil {
				return fmt.Errorf("%s item %d: %w", obj.GetKind(), i+1, err)
			}
		}
		return nil
	case *unstructured.Unstructured:
		return m.addObject(obj)
	default:
		return fmt.Errorf("%T is not an object of a manifest", obj)
	}
}

func (m *Manifests) addObject(obj *unstructured.Unstructured) error {
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return fmt.Errorf("%s: %w", obj.GetKind(), err)
		}
		return m.Add(list)
	}
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" {
		return fmt.Errorf("object %q has no kind", obj.GetName())
	}
	if ns := obj.GetNamespace(); m.onlyNamespace && ns != "" && ns != m.defaultNamespace {
		return fmt.Errorf("%s %s is in namespace %s, not %s: drop -n, or check that namespace with -n %s", gvk.Kind, obj.GetName(), ns, m.defaultNamespace, ns)
	}
	add, ok := manifestKinds[gvk.GroupKind()]
	if !ok {
		m.skipped[kindName(gvk.GroupKind())]++
		return nil
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(m.defaultNamespace)
	}
	if err := add(m, obj); err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

// Snapshot is what was added, pods in the order they were read.
func (m *Manifests) Snapshot() *Snapshot { return m.snap }

// Skipped names the kinds of the objects not checked, with how many, sorted.
func (m *Manifests) Skipped() []string {
	var out []string
	for k, n := range m.skipped {
		out = append(out, fmt.Sprintf("%s (%d)", k, n))
	}
	slices.Sort(out)
	return out
}

func kindName(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Kind + "." + gk.Group
}

// manifestKinds are the kinds doctor checks in manifests. Deployments, DaemonSets and
// ReplicaSets are taken in the extensions group too: old manifests still write it.
var manifestKinds = map[schema.GroupKind]func(*Manifests, *unstructured.Unstructured) error{
	{Kind: "Pod"}: func(m *Manifests, u *unstructured.Unstructured) error {
		var p corev1.Pod
		if err := fromUnstructured(u, &p); err != nil {
			return err
		}
		m.snap.Pods = append(m.snap.Pods, p)
		return nil
	},
	{Group: "apps", Kind: "Deployment"}:       deploymentPod,
	{Group: "extensions", Kind: "Deployment"}: deploymentPod,
	{Group: "apps", Kind: "StatefulSet"}: template(func(d *appsv1.StatefulSet) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.Template
	}),
	{Group: "apps", Kind: "DaemonSet"}:        daemonSetPod,
	{Group: "extensions", Kind: "DaemonSet"}:  daemonSetPod,
	{Group: "apps", Kind: "ReplicaSet"}:       replicaSetPod,
	{Group: "extensions", Kind: "ReplicaSet"}: replicaSetPod,
	{Kind: "ReplicationController"}: template(func(d *corev1.ReplicationController) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		if d.Spec.Template == nil {
			return d.ObjectMeta, corev1.PodTemplateSpec{}
		}
		return d.ObjectMeta, *d.Spec.Template
	}),
	{Group: "batch", Kind: "Job"}: template(func(d *batchv1.Job) (metav1.ObjectMeta, corev1.PodTemplateSpec) { return d.ObjectMeta, d.Spec.Template }),
	{Group: "batch", Kind: "CronJob"}: template(func(d *batchv1.CronJob) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
		return d.ObjectMeta, d.Spec.JobTemplate.Spec.Template
	}),
	{Kind: "Secret"}: func(m *Manifests, u *unstructured.Unstructured) error {
		var s corev1.Secret
		if err := fromUnstructured(u, &s); err != nil {
			return err
		}
		// stringData is written into data by the API server; here, by us.
		for k, v := range s.StringData {
			if s.Data == nil {
				s.Data = map[string][]byte{}
			}
			s.Data[k] = []byte(v)
		}
		s.StringData = nil
		m.snap.Secrets[key(s.Namespace, s.Name)] = &s
		return nil
	},
	{Kind: "ServiceAccount"}: func(m *Manifests, u *unstructured.Unstructured) error {
		var sa corev1.ServiceAccount
		if err := fromUnstructured(u, &sa); err != nil {
			return err
		}
		m.snap.ServiceAccounts[key(sa.Namespace, sa.Name)] = &sa
		return nil
	},
}

// template adds a workload's pod template as the pod it would create.
func template[T any](parts func(*T) (metav1.ObjectMeta, corev1.PodTemplateSpec)) func(*Manifests, *unstructured.Unstructured) error {
	return func(m *Manifests, u *unstructured.Unstructured) error {
		var w T
		if err := fromUnstructured(u, &w); err != nil {
			return err
		}
		meta, t := parts(&w)
		m.snap.Pods = append(m.snap.Pods, *TemplatePod(u.GetKind(), meta, t))
		return nil
	}
}

// fromUnstructured decodes an object into its Go type through JSON, as the API server
// decodes it (keys are case-sensitive): its errors name the field, not the value.
func fromUnstructured(u *unstructured.Unstructured, into any) error {
	b, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	return utiljson.Unmarshal(b, into)
}

// TemplatePod is a workload's pod template as the pod it would create, named KIND/NAME.
func TemplatePod(kind string, workload metav1.ObjectMeta, t corev1.PodTemplateSpec) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: kind + "/" + workload.Name, Namespace: workload.Namespace}, Spec: t.Spec}
}

// The kinds manifests write in two groups.
var deploymentPod = template(func(d *appsv1.Deployment) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
	return d.ObjectMeta, d.Spec.Template
})

var daemonSetPod = template(func(d *appsv1.DaemonSet) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
	return d.ObjectMeta, d.Spec.Template
})

var replicaSetPod = template(func(d *appsv1.ReplicaSet) (metav1.ObjectMeta, corev1.PodTemplateSpec) {
	return d.ObjectMeta, d.Spec.Template
})
