// Package pullsecret says what a ClusterPullSecret wants in one namespace: whether it
// targets the namespace, what its copy holds, whether a Secret found there is
// regcred's own or someone else's, and which ServiceAccount references regcred
// added. The controller acts on these answers; `kubectl regcred status` and doctor
// read the cluster with the same ones.
package pullsecret
