// Package controller is regcred-controller's reconcilers.
//
// Three controllers share the work. The ClusterPullSecret controller reads the source,
// works out which namespaces a ClusterPullSecret targets, fans out one work item per
// (ClusterPullSecret, namespace) pair, and sums the pairs' results into status and
// Events. The pair controller, with many workers, makes one namespace right: a copy
// made by a plain create and updated in place, the references added to or removed
// from ServiceAccounts, and nothing touched that regcred did not make. The heal
// controller (spec.healStuckPods) evicts pods stuck pulling for want of a copy they
// lack, when the doctor classifies the failure as one of credentials and their
// controller recreates them with the copy, and reports the others.
//
// Both work from observed state in caches that hold only what regcred manages:
// namespaces as metadata, Secrets carrying regcred's label, ServiceAccounts trimmed
// to their imagePullSecrets and regcred's annotation, each source Secret through a
// watch of that one name, and Pending pods trimmed to what the healer reads. At
// steady state they make no API request at all.
package controller
