package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/regcred/regcred/api/v1alpha1"
	"github.com/regcred/regcred/internal/pullsecret"
)

// Cache indexes.
const (
	// indexRecorded indexes ServiceAccounts by the ClusterPullSecrets recorded in
	// their regcred.dev/added-image-pull-secrets annotation.
	indexRecorded = "regcred.recorded"
	// indexCopyOf indexes copies by the ClusterPullSecret their label names.
	indexCopyOf = "regcred.copyOf"
)

func addIndexes(ctx context.Context, idx client.FieldIndexer) error {
	if err := idx.IndexField(ctx, &corev1.ServiceAccount{}, indexRecorded, func(o client.Object) []string {
		var names []string
		for cps := range pullsecret.Added(o.(*corev1.ServiceAccount)) {
			names = append(names, cps)
		}
		return names
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &corev1.Secret{}, indexCopyOf, func(o client.Object) []string {
		if v := o.GetLabels()[v1alpha1.LabelClusterPullSecret]; v != "" {
			return []string{v}
		}
		return nil
	})
}

// managedNamespaces returns the namespaces where the ClusterPullSecret has a copy or
// a recorded reference, from the caches.
func managedNamespaces(ctx context.Context, c client.Reader, cps string) (map[string]bool, error) {
	out := map[string]bool{}
	var copies corev1.SecretList
	if err := c.List(ctx, &copies, client.MatchingFields{indexCopyOf: cps}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for _, s := range copies.Items {
		out[s.Namespace] = true
	}
	var sas corev1.ServiceAccountList
	if err := c.List(ctx, &sas, client.MatchingFields{indexRecorded: cps}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for _, sa := range sas.Items {
		out[sa.Namespace] = true
	}
	return out, nil
}
