// Package deploy renders regcred's install manifests, the Helm chart charts/regcred
// (with the pinned helm of package helmbin) and the kustomize config in config/ (with
// kustomize's own library), into objects: for the tests that hold the two to the same
// Deployment and RBAC and prove them valid on a real API server, and for the
// end-to-end suites that install the controller.
package deploy
