package doctor

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/regcred/regcred/internal/serviceaccount"
)

// A pod gets a pull Secret one of two ways, and the fix follows the way: when its
// template sets no imagePullSecrets, admission copies the ServiceAccount's list at the
// pod's creation, so the Secret goes on the ServiceAccount and the pod is recreated;
// when the template sets its own list, admission copies nothing, so the Secret is added
// to that list, next to every entry already there. The pod's own list does not tell
// the two apart (admission's copy looks like a list of its own): the owner's template
// does.

// recreator returns what recreates the pod and where its list comes from.
func (d *diagnosis) recreator(p *corev1.Pod) (serviceaccount.Recreator, serviceaccount.Origin) {
	if d.opts.Static {
		// The pod is a template (or a manifest) about to be created.
		rec := serviceaccount.Recreator{Owner: serviceaccount.Workload{Kind: "Pod", Name: p.Name}, Template: &corev1.PodTemplateSpec{Spec: p.Spec}}
		if kind, name, ok := strings.Cut(p.Name, "/"); ok {
			rec.Owner = serviceaccount.Workload{Kind: kind, Name: name}
		}
		return rec, rec.Origin()
	}
	rec := serviceaccount.Recreator{Owner: ownerWorkload(p)}
	if len(p.Spec.ImagePullSecrets) == 0 && rec.Owner.Kind == "Pod" {
		return rec, serviceaccount.OriginServiceAccount // admission copied nothing: the ServiceAccount had none
	}
	if d.opts.Recreator != nil {
		if r, err := d.opts.Recreator(d.ctx, p); err == nil {
			rec = r
		}
	}
	if len(p.Spec.ImagePullSecrets) == 0 && rec.Template == nil {
		// No list: the ServiceAccount had none when the pod was made, and nothing
		// in its template stops the next pod getting the ServiceAccount's.
		return rec, serviceaccount.OriginServiceAccount
	}
	return rec, rec.Origin()
}

// ownerWorkload names the pod's owner from the pod alone (a ReplicaSet's Deployment by
// the pod-template-hash label).
func ownerWorkload(p *corev1.Pod) serviceaccount.Workload {
	o := owner(p)
	if o == "" {
		return serviceaccount.Workload{Kind: "Pod", Name: p.Name}
	}
	kind, name, _ := strings.Cut(o, "/")
	for _, k := range []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"} {
		if strings.EqualFold(k, kind) {
			kind = k
		}
	}
	return serviceaccount.Workload{Kind: kind, Name: name}
}

// kubectlName is the workload as kubectl names it (deployment/web).
func kubectlName(w serviceaccount.Workload) string {
	return strings.ToLower(w.Kind) + "/" + w.Name
}

// recreateFix is what recreates the pod, so that admission copies the ServiceAccount's
// list as it is now.
func (d *diagnosis) recreateFix(p *corev1.Pod, rec serviceaccount.Recreator) []string {
	deletePod := fmt.Sprintf("kubectl delete pod %s -n %s", p.Name, p.Namespace)
	switch {
	case d.opts.Static:
		return nil // not created yet: it gets the ServiceAccount's list when it is
	case rec.Owner.Kind == "Pod":
		return []string{deletePod + "   # then create it again"}
	case rec.Owner.Restartable() && rec.Rolls:
		return []string{"kubectl rollout restart " + kubectlName(rec.Owner) + " -n " + p.Namespace}
	case rec.Owner.Restartable():
		return []string{"kubectl rollout restart " + kubectlName(rec.Owner) + " -n " + p.Namespace,
			deletePod + "   # " + rec.Owner.String() + "'s rollout does not replace a pod that never started"}
	default:
		return []string{deletePod + "   # " + rec.Owner.String() + " creates it again"}
	}
}

// addToTemplateFix adds Secrets to a template's own list, keeping its entries: a JSON
// patch that appends, which fails rather than create a list where there was none.
func (d *diagnosis) addToTemplateFix(p *corev1.Pod, rec serviceaccount.Recreator, secrets []string) []string {
	list := p.Spec.ImagePullSecrets
	if rec.Template != nil {
		list = rec.Template.Spec.ImagePullSecrets
	}
	var keep []string
	for _, ref := range list {
		keep = append(keep, ref.Name)
	}
	kept := "keeping " + strings.Join(keep, ", ")
	switch rec.Owner.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		if d.opts.Static && d.opts.Files {
			break
		}
		var ops []string
		for _, s := range secrets {
			ops = append(ops, fmt.Sprintf(`{"op":"add","path":"/spec/template/spec/imagePullSecrets/-","value":{"name":%q}}`, s))
		}
		fix := []string{fmt.Sprintf("kubectl patch %s %s -n %s --type json -p '[%s]'   # appends to the template's own imagePullSecrets, %s", strings.ToLower(rec.Owner.Kind), rec.Owner.Name, p.Namespace, strings.Join(ops, ","), kept)}
		if !rec.Rolls && !d.opts.Static {
			fix = append(fix, fmt.Sprintf("kubectl delete pod %s -n %s   # %s does not replace it by itself", p.Name, p.Namespace, rec.Owner))
		}
		return fix
	case "Job":
		return []string{fmt.Sprintf("recreate %s with %s added to spec.template.spec.imagePullSecrets (a Job's template cannot change); %s", rec.Owner, strings.Join(secrets, ", "), kept)}
	}
	where := "the pod template of " + rec.Owner.String()
	if rec.Owner.Kind == "Pod" {
		where = "pod " + p.Name + "'s manifest"
	}
	fix := []string{fmt.Sprintf("add %s to imagePullSecrets in %s; %s", strings.Join(secrets, ", "), where, kept)}
	if rec.Owner.Kind == "Pod" && !d.opts.Static {
		fix = append(fix, fmt.Sprintf("kubectl delete pod %s -n %s   # then create it again", p.Name, p.Namespace))
	}
	return fix
}

// referenceFix makes the pod get a Secret it does not reference: on its
// ServiceAccount when that is where its list comes from, in its template when the
// template sets its own; both said when the origin is unknown.
func (d *diagnosis) referenceFix(p *corev1.Pod, secret, note string) []string {
	if note != "" {
		note = "   # " + note
	}
	rec, origin := d.recreator(p)
	attach := fmt.Sprintf("kubectl regcred attach %s -n %s --serviceaccount %s --restart%s", secret, p.Namespace, serviceAccount(p), note)
	switch origin {
	case serviceaccount.OriginServiceAccount:
		fix := []string{attach}
		if !d.opts.Static && (!rec.Owner.Restartable() || !rec.Rolls) {
			// attach --restart restarts Deployments, StatefulSets and DaemonSets only.
			fix = append(fix, slices.DeleteFunc(d.recreateFix(p, rec), func(s string) bool { return strings.HasPrefix(s, "kubectl rollout restart") })...)
		}
		return fix
	case serviceaccount.OriginTemplate:
		fix := d.addToTemplateFix(p, rec, []string{secret})
		fix[0] += strings.Replace(note, "   #", ";", 1)
		return fix
	}
	var own []string
	for _, ref := range p.Spec.ImagePullSecrets {
		own = append(own, ref.Name)
	}
	return []string{
		fmt.Sprintf("if the manifest of %s sets imagePullSecrets (%s), add %s there and keep those entries; otherwise they came from ServiceAccount %s:", rec.Owner, strings.Join(own, ", "), secret, serviceAccount(p)),
		attach,
	}
}

// pullSecretRefs is the list the kubelet reads for the pod. A pod about to be created
// (a template, a manifest) gets, when it sets none, what admission will copy: the
// ServiceAccount's list.
func (d *diagnosis) pullSecretRefs(p *corev1.Pod) []corev1.LocalObjectReference {
	if !d.opts.Static || len(p.Spec.ImagePullSecrets) > 0 {
		return p.Spec.ImagePullSecrets
	}
	if sa, ok := d.snap.ServiceAccounts[key(p.Namespace, serviceAccount(p))]; ok {
		return sa.ImagePullSecrets
	}
	return nil
}

// replaceReferenceFix has the pod reference secret instead of old, where its list
// comes from.
func (d *diagnosis) replaceReferenceFix(p *corev1.Pod, old, secret, why string) []string {
	rec, origin := d.recreator(p)
	switch origin {
	case serviceaccount.OriginServiceAccount:
		return append([]string{fmt.Sprintf("kubectl regcred detach %s -n %s --serviceaccount %s", old, p.Namespace, serviceAccount(p))},
			d.referenceFix(p, secret, why)...)
	case serviceaccount.OriginTemplate:
		where := "the pod template of " + rec.Owner.String()
		if d.opts.Static && rec.Owner.Kind != "Pod" {
			where = rec.Owner.String() + "'s pod template"
		}
		fix := []string{fmt.Sprintf("in %s, replace %s by %s in imagePullSecrets and keep the other entries   # %s", where, old, secret, why)}
		if !rec.Rolls && !d.opts.Static {
			fix = append(fix, d.recreateFix(p, rec)...)
		}
		return fix
	}
	return []string{fmt.Sprintf("reference %s instead of %s where the pod's imagePullSecrets come from: the manifest of %s if it sets them, else ServiceAccount %s (kubectl regcred detach %s / attach %s --serviceaccount %s --restart)   # %s", secret, old, rec.Owner, serviceAccount(p), old, secret, serviceAccount(p), why)}
}
