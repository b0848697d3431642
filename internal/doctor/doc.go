// Package doctor explains why pods cannot pull their images, the way the kubelet sees
// it, and what fixes it.
//
// Like cert-manager's policy checks, it works in three steps: Gather reads what it
// needs from the API server once (pods, ServiceAccounts, Secrets, events: one list
// each, whatever the number of pods); the checks are pure functions over that
// snapshot; registry probes run last, one per distinct image and credential,
// concurrently and bounded. The result is a list of Findings with stable codes.
package doctor
