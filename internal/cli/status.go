package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// StatusOptions are the options of `kubectl regcred status`.
type StatusOptions struct {
	Name   string
	output viewOutput

	flags  *genericclioptions.ConfigFlags
	client client.Client
	genericiooptions.IOStreams
}

// errNotInstalled is what status says when the cluster has no ClusterPullSecret API.
var errNotInstalled = errors.New("the regcred controller is not installed (no ClusterPullSecret API in this cluster): install it with helm install regcred charts/regcred")

// Namespace states status reports: the API's four, and copies or references that
// remain where the ClusterPullSecret no longer wants them.
const stateCleaningUp v1alpha1.NamespaceState = "CleaningUp"

// cpsSummary is one line of `status` without a name.
type cpsSummary struct {
	Name       string                   `json:"name"`
	Source     string                   `json:"source"`
	SecretName string                   `json:"secretName"`
	Ready      conditionView            `json:"ready"`
	Degraded   conditionView            `json:"degraded"`
	Namespaces v1alpha1.NamespaceCounts `json:"namespaces"`
}

type conditionView struct {
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// cpsStatus is `status NAME`: the ClusterPullSecret and what it manages, namespace by
// namespace, as read from the cluster now.
type cpsStatus struct {
	cpsSummary
	ServiceAccounts    []string     `json:"serviceAccounts"`
	Generation         int64        `json:"generation"`
	ObservedGeneration int64        `json:"observedGeneration"`
	LastSyncTime       *metav1.Time `json:"lastSyncTime,omitempty"`
	// Injection is the AdmissionInjection condition: whether new pods get the copy
	// from regcred's admission policy.
	Injection conditionView `json:"admissionInjection"`
	// Credential is when the credential a plugin minted was minted and expires; only
	// for a credentialProvider source.
	Credential *v1alpha1.CredentialStatus `json:"credential,omitempty"`
	// StuckPods are the pods that fail for want of the copy and that regcred reports
	// and does not evict.
	StuckPods *v1alpha1.StuckPods `json:"stuckPods,omitempty"`
	Warnings  []string            `json:"warnings,omitempty"`
	States    []namespaceRow      `json:"namespaceStates"`
}

type namespaceRow struct {
	Namespace string                  `json:"namespace"`
	State     v1alpha1.NamespaceState `json:"state"`
	Message   string                  `json:"message"`
}

// NewCmdStatus returns `kubectl regcred status`.
func NewCmdStatus(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{flags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "What each ClusterPullSecret keeps in sync, namespace by namespace",
		Long: `Without NAME, one line per ClusterPullSecret: its source, the name of its copies,
its Ready and Degraded conditions and the controller's counts of targeted, synced,
conflicting and failed namespaces.

With NAME, every namespace it targets, read from the cluster now: Synced (an
up-to-date copy that every served ServiceAccount references), Pending (no copy yet,
a stale copy, or a ServiceAccount without the reference), Conflict (a Secret of that
name that regcred did not make) or Failed (the controller's last attempt failed, with
its message); and CleaningUp where copies or references remain in namespaces it no
longer targets. Secret data is never read.

It also shows whether new pods get the copy at admission (AdmissionInjection), when
a plugin source's credential was minted and expires, and the pods that fail for want
of the copy and that regcred reports instead of evicting (status.stuckPods).

Exit status: 0 when everything shown is synced, 1 when something is not, a
ClusterPullSecret is Degraded or has stuck pods, 2 when status could not run.`,
		Example: `  kubectl regcred status
  kubectl regcred status team-pull
  kubectl regcred status team-pull -o json`,
		Args: cobra.MaximumNArgs(1),
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
	o.output.addFlag(cmd.Flags(), "status", "the ClusterPullSecrets' state")
	return cmd
}

// Validate checks the name and the flags; it changes nothing.
func (o *StatusOptions) Validate() error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.Name != "" {
		if why := validateSecretName(o.Name); why != "" {
			return fmt.Errorf("ClusterPullSecret name %q: %s", o.Name, why)
		}
	}
	return nil
}

// Complete reads the argument and makes a client that knows ClusterPullSecrets.
func (o *StatusOptions) Complete(args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	o.client, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("make Kubernetes client: %w", err)
	}
	return nil
}

// Run prints the list, or one ClusterPullSecret namespace by namespace.
func (o *StatusOptions) Run(ctx context.Context) error {
	if o.Name == "" {
		return o.runList(ctx)
	}
	return o.runOne(ctx)
}

func (o *StatusOptions) runList(ctx context.Context) error {
	var list v1alpha1.ClusterPullSecretList
	if err := o.client.List(ctx, &list); err != nil {
		return apiError("list clusterpullsecrets", err)
	}
	items := make([]cpsSummary, 0, len(list.Items))
	notSynced := 0
	for i := range list.Items {
		s := summarize(&list.Items[i])
		items = append(items, s)
		if !s.synced() {
			notSynced++
		}
	}
	slices.SortFunc(items, func(a, b cpsSummary) int { return strings.Compare(a.Name, b.Name) })
	if !o.output.text() {
		if err := o.output.print(o.Out, map[string]any{"items": items}); err != nil {
			return err
		}
	} else if len(items) == 0 {
		fmt.Fprintln(o.Out, "No ClusterPullSecrets.")
	} else {
		tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSOURCE\tSECRET\tREADY\tDEGRADED\tTARGETED\tSYNCED\tCONFLICT\tFAILED")
		for _, s := range items {
			n := s.Namespaces
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", s.Name, s.Source, s.SecretName, s.Ready.short(), s.Degraded.short(), n.Targeted, n.Synced, n.Conflict, n.Failed)
		}
		tw.Flush()
	}
	if notSynced > 0 {
		return failed("%d of %d ClusterPullSecrets are not synced", notSynced, len(items))
	}
	return nil
}

func (o *StatusOptions) runOne(ctx context.Context) error {
	var cps v1alpha1.ClusterPullSecret
	if err := o.client.Get(ctx, client.ObjectKey{Name: o.Name}, &cps); err != nil {
		return apiError("get clusterpullsecret "+o.Name, err)
	}
	obs, err := observe(ctx, o.client, &cps)
	if err != nil {
		return err
	}
	st := cpsStatus{
		cpsSummary: summarize(&cps), ServiceAccounts: cps.ServedServiceAccounts(),
		Generation: cps.Generation, ObservedGeneration: cps.Status.ObservedGeneration, LastSyncTime: cps.Status.LastSyncTime,
		Injection: condition(&cps, v1alpha1.ConditionInjection), Credential: cps.Status.Credential,
		Warnings: obs.warnings, States: obs.rows(&cps),
	}
	if sp := cps.Status.StuckPods; sp != nil && sp.Count > 0 {
		st.StuckPods = sp
	}
	if c := st.Credential; c != nil && c.ExpiresAt != nil && c.ExpiresAt.Time.Before(time.Now()) {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the credential the plugin minted expired at %s: the copies hold it until a refresh succeeds, and pulls with it fail", c.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	if st.ObservedGeneration < st.Generation {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the controller's status is from generation %d of the spec, which is now at %d: it has not caught up yet", st.ObservedGeneration, st.Generation))
	}
	if listed := countFailed(cps.Status.NotSynced); int(cps.Status.Namespaces.Failed) > listed {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the controller counts %d failed namespaces and names %d (status.notSynced holds 20 at most): the others show as what is seen in them", cps.Status.Namespaces.Failed, listed))
	}
	if !o.output.text() {
		if err := o.output.print(o.Out, st); err != nil {
			return err
		}
	} else {
		printStatus(o.Out, st)
	}
	notSynced, leftovers := 0, 0
	for _, r := range st.States {
		switch r.State {
		case v1alpha1.NamespaceSynced:
		case stateCleaningUp:
			leftovers++
		default:
			notSynced++
		}
	}
	switch {
	case notSynced > 0 || leftovers > 0:
		return failed("ClusterPullSecret %s: %d targeted namespaces not synced, %d being cleaned up", cps.Name, notSynced, leftovers)
	case st.Degraded.Status == string(metav1.ConditionTrue):
		return failed("ClusterPullSecret %s is Degraded: %s", cps.Name, st.Degraded.Reason)
	case st.StuckPods != nil:
		return failed("ClusterPullSecret %s: %d pods fail for want of the copy and are not evicted: recreate them", cps.Name, st.StuckPods.Count)
	}
	return nil
}

// apiError turns "no ClusterPullSecret API" into the install hint.
func apiError(doing string, err error) error {
	if apimeta.IsNoMatchError(err) {
		return errNotInstalled
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func summarize(cps *v1alpha1.ClusterPullSecret) cpsSummary {
	s := cpsSummary{Name: cps.Name, Source: "-", SecretName: cps.TargetSecretName(), Namespaces: cps.Status.Namespaces,
		Ready: condition(cps, v1alpha1.ConditionReady), Degraded: condition(cps, v1alpha1.ConditionDegraded)}
	switch src := cps.Spec.Source; {
	case src.SecretRef != nil:
		s.Source = src.SecretRef.Namespace + "/" + src.SecretRef.Name
	case src.CredentialProvider != nil:
		s.Source = "plugin " + src.CredentialProvider.Name
	}
	return s
}

// synced reports whether the controller says every targeted namespace is synced.
func (s cpsSummary) synced() bool {
	return s.Ready.Status == string(metav1.ConditionTrue) && s.Degraded.Status != string(metav1.ConditionTrue) &&
		s.Namespaces.Synced == s.Namespaces.Targeted
}

func condition(cps *v1alpha1.ClusterPullSecret, typ string) conditionView {
	c := apimeta.FindStatusCondition(cps.Status.Conditions, typ)
	if c == nil {
		return conditionView{Status: string(metav1.ConditionUnknown)}
	}
	return conditionView{Status: string(c.Status), Reason: c.Reason, Message: c.Message}
}

func (c conditionView) short() string {
	if c.Reason == "" {
		return c.Status
	}
	return c.Status + " (" + c.Reason + ")"
}

func countFailed(list []v1alpha1.NamespaceStatus) int {
	n := 0
	for _, s := range list {
		if s.State == v1alpha1.NamespaceFailed {
			n++
		}
	}
	return n
}

// observed is what the cluster holds for one ClusterPullSecret, read with a few paged
// lists whatever the number of namespaces: namespaces and Secrets metadata-only, the
// Secrets selected by regcred's label or by the copies' name.
type observed struct {
	namespaces map[string]*metav1.PartialObjectMetadata
	targeted   []string
	// copies are the Secrets pullsecret.Owner says are this ClusterPullSecret's.
	copies map[string][]*metav1.PartialObjectMetadata // by namespace
	// named are the Secrets named like the copies, whoever made them.
	named           map[string]*metav1.PartialObjectMetadata // by namespace
	serviceAccounts map[string][]*corev1.ServiceAccount      // by namespace
	warnings        []string
}

// pageSize is 5,000: the API server collects every item after the continue token for each
// page it serves from its watch cache, so small pages cost it work quadratic in the list
// (see internal/doctor's pages).
const pageSize = 5000

// pages lists page by page, calling each after every page.
func pages(ctx context.Context, c client.Client, list client.ObjectList, each func(), opts ...client.ListOption) error {
	cont := ""
	for {
		if err := c.List(ctx, list, append(opts, client.Limit(pageSize), client.Continue(cont))...); err != nil {
			return err
		}
		each()
		if cont = list.GetContinue(); cont == "" {
			return nil
		}
	}
}

func metadataList(kind string) *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return l
}

func observe(ctx context.Context, c client.Client, cps *v1alpha1.ClusterPullSecret) (*observed, error) {
	o := &observed{namespaces: map[string]*metav1.PartialObjectMetadata{}, copies: map[string][]*metav1.PartialObjectMetadata{},
		named: map[string]*metav1.PartialObjectMetadata{}, serviceAccounts: map[string][]*corev1.ServiceAccount{}}
	sel, err := pullsecret.NewSelector(cps)
	if err != nil {
		o.warnings = append(o.warnings, err.Error()+": it targets no namespace")
	}
	nsList := metadataList("NamespaceList")
	err = pages(ctx, c, nsList, func() {
		for i := range nsList.Items {
			ns := nsList.Items[i].DeepCopy()
			o.namespaces[ns.Name] = ns
			if sel != nil && sel.Targets(ns) {
				o.targeted = append(o.targeted, ns.Name)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	slices.Sort(o.targeted)
	secrets := metadataList("SecretList")
	err = pages(ctx, c, secrets, func() {
		for i := range secrets.Items {
			if s := secrets.Items[i].DeepCopy(); pullsecret.Owner(s) == cps.Name {
				o.copies[s.Namespace] = append(o.copies[s.Namespace], s)
			}
		}
	}, client.MatchingLabels{v1alpha1.LabelClusterPullSecret: cps.Name})
	if err != nil {
		return nil, fmt.Errorf("list secrets labelled %s=%s: %w", v1alpha1.LabelClusterPullSecret, cps.Name, err)
	}
	secrets = metadataList("SecretList")
	err = pages(ctx, c, secrets, func() {
		for i := range secrets.Items {
			s := secrets.Items[i].DeepCopy()
			o.named[s.Namespace] = s
		}
	}, client.MatchingFields{"metadata.name": cps.TargetSecretName()})
	if err != nil {
		return nil, fmt.Errorf("list secrets named %s: %w", cps.TargetSecretName(), err)
	}
	var sas corev1.ServiceAccountList
	err = pages(ctx, c, &sas, func() {
		for i := range sas.Items {
			sa := sas.Items[i].DeepCopy()
			if cps.Patches(sa.Name) || pullsecret.Added(sa)[cps.Name] != "" {
				o.serviceAccounts[sa.Namespace] = append(o.serviceAccounts[sa.Namespace], sa)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list serviceaccounts: %w", err)
	}
	return o, nil
}

// rows says, for each targeted namespace, its state and why; then where copies or
// references remain that are no longer wanted.
func (o *observed) rows(cps *v1alpha1.ClusterPullSecret) []namespaceRow {
	name := cps.TargetSecretName()
	failedMsg := map[string]string{}
	for _, s := range cps.Status.NotSynced {
		if s.State == v1alpha1.NamespaceFailed {
			failedMsg[s.Namespace] = s.Message
			if s.Message == "" {
				failedMsg[s.Namespace] = "the controller's last attempt failed; it retries"
			}
		}
	}
	targeted := map[string]bool{}
	rows := []namespaceRow{}
	for _, ns := range o.targeted {
		targeted[ns] = true
		row := namespaceRow{Namespace: ns}
		s := o.named[ns]
		switch {
		case s != nil && pullsecret.Owner(s) != cps.Name:
			row.State = v1alpha1.NamespaceConflict
			if other := pullsecret.Owner(s); other != "" {
				row.Message = fmt.Sprintf("Secret %s here is ClusterPullSecret %s's copy: give one of the two another spec.secretName", name, other)
			} else {
				row.Message = fmt.Sprintf("Secret %s here was not made by regcred, which leaves it alone: delete or rename it, or set spec.secretName", name)
			}
		case failedMsg[ns] != "" && !o.synced(cps, ns, s):
			row.State, row.Message = v1alpha1.NamespaceFailed, failedMsg[ns]
		default:
			row.State, row.Message = o.copyState(cps, ns, s)
		}
		rows = append(rows, row)
	}
	return append(rows, o.leftovers(cps, targeted)...)
}

// synced reports whether the namespace's copy is up to date and referenced.
func (o *observed) synced(cps *v1alpha1.ClusterPullSecret, ns string, s *metav1.PartialObjectMetadata) bool {
	state, _ := o.copyState(cps, ns, s)
	return state == v1alpha1.NamespaceSynced
}

// copyState judges the copy (or its absence) and the served ServiceAccounts of a
// targeted namespace without a conflict.
func (o *observed) copyState(cps *v1alpha1.ClusterPullSecret, ns string, s *metav1.PartialObjectMetadata) (v1alpha1.NamespaceState, string) {
	name := cps.TargetSecretName()
	if s == nil {
		return v1alpha1.NamespacePending, fmt.Sprintf("no copy of Secret %s yet", name)
	}
	var why, referencing []string
	switch hash := s.Annotations[v1alpha1.AnnotationContentHash]; {
	case cps.Status.SourceHash == "":
		why = append(why, "the controller has not recorded the source's hash yet")
	case hash != cps.Status.SourceHash:
		why = append(why, fmt.Sprintf("copy is stale: its content-hash is %s, the source's %s", shortHash(hash), shortHash(cps.Status.SourceHash)))
	}
	for _, sa := range o.serviceAccounts[ns] {
		if !cps.Patches(sa.Name) {
			continue
		}
		if slices.Contains(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: name}) {
			referencing = append(referencing, sa.Name)
		} else {
			why = append(why, fmt.Sprintf("ServiceAccount %s does not reference %s yet", sa.Name, name))
		}
	}
	if len(why) > 0 {
		return v1alpha1.NamespacePending, strings.Join(why, "; ")
	}
	switch len(referencing) {
	case 0:
		if !cps.PatchesServiceAccounts() {
			return v1alpha1.NamespaceSynced, "copy up to date; ServiceAccounts are not patched (spec.patchServiceAccounts is false)"
		}
		return v1alpha1.NamespaceSynced, "copy up to date; no served ServiceAccount here"
	case 1:
		return v1alpha1.NamespaceSynced, "copy up to date, referenced by ServiceAccount " + referencing[0]
	default:
		return v1alpha1.NamespaceSynced, "copy up to date, referenced by ServiceAccounts " + strings.Join(referencing, ", ")
	}
}

// leftovers are the copies and ServiceAccount references regcred made for the
// ClusterPullSecret that it no longer wants: in namespaces it no longer targets, under
// a former secretName, or in ServiceAccounts it no longer serves.
func (o *observed) leftovers(cps *v1alpha1.ClusterPullSecret, targeted map[string]bool) []namespaceRow {
	name := cps.TargetSecretName()
	left := map[string][]string{}  // in namespaces no longer targeted
	notes := map[string][]string{} // in targeted namespaces
	for ns, copies := range o.copies {
		for _, s := range copies {
			switch {
			case !targeted[ns]:
				left[ns] = append(left[ns], "copy "+s.Name)
			case s.Name != name:
				notes[ns] = append(notes[ns], fmt.Sprintf("copy %s remains under a former name (now %s)", s.Name, name))
			}
		}
	}
	for ns, sas := range o.serviceAccounts {
		for _, sa := range sas {
			added := pullsecret.Added(sa)[cps.Name]
			if added == "" || !slices.Contains(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: added}) {
				continue
			}
			switch {
			case !targeted[ns]:
				left[ns] = append(left[ns], fmt.Sprintf("reference to %s in ServiceAccount %s", added, sa.Name))
			case !cps.Patches(sa.Name):
				notes[ns] = append(notes[ns], fmt.Sprintf("ServiceAccount %s keeps the reference to %s that regcred added; it is no longer patched", sa.Name, added))
			case added != name:
				notes[ns] = append(notes[ns], fmt.Sprintf("ServiceAccount %s keeps the reference to %s, a former name (now %s)", sa.Name, added, name))
			}
		}
	}
	var rows []namespaceRow
	for ns, items := range left {
		slices.Sort(items)
		rows = append(rows, namespaceRow{Namespace: ns, State: stateCleaningUp,
			Message: fmt.Sprintf("no longer targeted (%s); still there: %s", o.notTargeted(cps, ns), strings.Join(items, ", "))})
	}
	for ns, n := range notes {
		slices.Sort(n)
		rows = append(rows, namespaceRow{Namespace: ns, State: stateCleaningUp, Message: strings.Join(n, "; ")})
	}
	slices.SortFunc(rows, func(a, b namespaceRow) int { return strings.Compare(a.Namespace, b.Namespace) })
	return rows
}

// notTargeted says why a namespace is not targeted.
func (o *observed) notTargeted(cps *v1alpha1.ClusterPullSecret, ns string) string {
	n := o.namespaces[ns]
	switch {
	case n == nil || n.DeletionTimestamp != nil:
		return "the namespace is being deleted"
	case cps.Spec.Source.SecretRef != nil && cps.Spec.Source.SecretRef.Namespace == ns:
		return "the source's own namespace"
	case pullsecret.Excluded(cps.Spec.ExcludeNamespaces, ns):
		return "in spec.excludeNamespaces"
	default:
		return "its labels do not match spec.namespaceSelector"
	}
}

func shortHash(h string) string {
	switch {
	case h == "":
		return "missing"
	case len(h) > 12:
		return h[:12]
	}
	return h
}

func printStatus(w io.Writer, st cpsStatus) {
	served := "ServiceAccounts " + strings.Join(st.ServiceAccounts, ", ")
	if slices.Contains(st.ServiceAccounts, "*") {
		served = "every ServiceAccount"
	}
	fmt.Fprintf(w, "ClusterPullSecret %s: Secret %s from %s, for %s\n", st.Name, st.SecretName, st.Source, served)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range []struct {
		label string
		c     conditionView
	}{{"Ready", st.Ready}, {"Degraded", st.Degraded}, {"AdmissionInjection", st.Injection}} {
		if c.c.Reason == "" && c.c.Status == string(metav1.ConditionUnknown) && c.label == "AdmissionInjection" {
			continue // a controller from before admission injection
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.label, c.c.Status, orDash(c.c.Reason), c.c.Message)
	}
	tw.Flush()
	if c := st.Credential; c != nil && c.MintedAt != nil && c.ExpiresAt != nil {
		fmt.Fprintf(w, "Credential: minted %s, expires %s\n", c.MintedAt.UTC().Format(time.RFC3339), c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	n := st.Namespaces
	fmt.Fprintf(w, "Controller's count: %d targeted, %d synced, %d conflict, %d failed\n", n.Targeted, n.Synced, n.Conflict, n.Failed)
	if sp := st.StuckPods; sp != nil {
		more := ""
		if int(sp.Count) > len(sp.Pods) {
			more = fmt.Sprintf(" and %d more", int(sp.Count)-len(sp.Pods))
		}
		fmt.Fprintf(w, "Stuck pods, not evicted (no controller recreates them, or their replacement lacked the copy too): %s%s\n", strings.Join(sp.Pods, ", "), more)
	}
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	fmt.Fprintln(w)
	counts := map[v1alpha1.NamespaceState]int{}
	if len(st.States) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMESPACE\tSTATE\tWHY")
		for _, r := range st.States {
			counts[r.State]++
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Namespace, r.State, r.Message)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	targeted := len(st.States) - counts[stateCleaningUp]
	fmt.Fprintf(w, "%d namespaces targeted: %d synced, %d pending, %d conflict, %d failed; %d being cleaned up\n", targeted,
		counts[v1alpha1.NamespaceSynced], counts[v1alpha1.NamespacePending], counts[v1alpha1.NamespaceConflict], counts[v1alpha1.NamespaceFailed], counts[stateCleaningUp])
}
