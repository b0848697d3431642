package v1alpha1

// Labels and annotations regcred writes. A copy is regcred's only when it carries
// LabelClusterPullSecret and an owner reference to that ClusterPullSecret; any other
// Secret of the same name belongs to someone else and is never written.
const (
	// LabelManagedBy is app.kubernetes.io/managed-by, set to ManagedBy on every copy.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "regcred"
	// LabelClusterPullSecret names the ClusterPullSecret a copy belongs to.
	LabelClusterPullSecret = "regcred.dev/cluster-pull-secret"
	// AnnotationContentHash is the hash of the copy's data; equal hashes mean no write.
	AnnotationContentHash = "regcred.dev/content-hash"
	// AnnotationSource names the source Secret of a copy, as namespace/name.
	AnnotationSource = "regcred.dev/source"
	// AnnotationAddedPullSecrets, on a ServiceAccount, records the imagePullSecrets
	// entries regcred added, as a JSON object from ClusterPullSecret name to Secret
	// name. Cleanup removes only those; an entry a person added is never in it.
	AnnotationAddedPullSecrets = "regcred.dev/added-image-pull-secrets"
	// AnnotationTokenFor, on a ServiceAccount, lets regcred-controller request its
	// tokens for the credential provider plugins of the ClusterPullSecrets named
	// (comma-separated). Without it regcred asks for none: editing a
	// ClusterPullSecret must not be a way to get any ServiceAccount's token.
	AnnotationTokenFor = "regcred.dev/token-for-cluster-pull-secrets"
	// Finalizer holds a ClusterPullSecret until its copies and references are
	// removed (deletionPolicy Delete) or released (Orphan).
	Finalizer = "regcred.dev/cleanup"
)
