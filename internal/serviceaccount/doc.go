// Package serviceaccount adds and removes image pull Secrets on ServiceAccounts without
// dropping the entries already there, and finds the pods a change does not reach.
//
// ServiceAccount.imagePullSecrets is an atomic list: a patch replaces it whole (the
// documented `kubectl patch serviceaccount default -p '{"imagePullSecrets":[...]}'`
// silently drops what was there). Attach and Detach read the ServiceAccount, change
// the list, and write it back with the resourceVersion they read, retrying on
// conflict, so a concurrent writer's entries survive; Edit.Undo takes back one such
// change in the same way. The ServiceAccount admission plugin copies the list into a
// pod only when the pod is created, and only when the pod has no list of its own:
// existing pods never see the change until recreated.
package serviceaccount
