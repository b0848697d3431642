// Package controller is regcred-controller's reconcilers.
//
// Two controllers share the work. The ClusterPullSecret controller reads the source,
// works out which namespaces a ClusterPullSecret targets, fans out one work item per
// (ClusterPullSecret, namespace) pair, and sums the pairs' results into status and
// Events. The pair controller, with many workers, makes one namespace right: a copy
// made by a plain create and updated in place, the references added to or removed
// from ServiceAccounts, and nothing touched that regcred did not make.
//
// Both work from observed state in caches that hold only what regcred manages:
// namespaces as metadata, Secrets carrying regcred's label, ServiceAccounts trimmed
// to their imagePullSecrets and regcred's annotation, and each source Secret through
// a watch of that one name. At steady state they make no API request at all.
package controller
