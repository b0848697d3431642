#!/usr/bin/env bash
# Builds the Kubernetes and etcd binaries the tests and the local cluster run, from the
# pinned tools module in hack/tools/k8s, once per version, into a cache outside the work
# tree. Prints the folder that holds them. A warm cache returns at once.
#
# Many callers may ask at once (a bare `go test ./...` runs one test binary per package,
# each asking for the binaries): one builds, under a lock, into a temporary folder that
# is renamed into place when complete; the others wait for the lock and then find the
# folder complete.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod="$here/tools/k8s"
version=$(awk '$1=="k8s.io/kubernetes" {print $2}' "$mod/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3" {print $2}' "$mod/go.mod")
cache=${REGCRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regcred}
# The key covers go.mod and go.sum, so any change to the pins builds afresh.
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
out="$cache/k8s/$version-$key"
bins=(kube-apiserver kubelet kube-controller-manager kube-scheduler etcd)
complete() {
  local b
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 1; done
}
if complete; then echo "$out"; exit 0; fi

mkdir -p "$cache/k8s"
lock="$out.lock"
exec 9>"$lock"
if ! flock -n 9; then
  echo "waiting for another build of the Kubernetes $version binaries (lock $lock)" >&2
  flock 9
fi
# Whoever held the lock may have finished the build.
if complete; then echo "$out"; exit 0; fi
# Partial folders left by a build that was killed: nobody else builds while we hold the lock.
rm -rf "$out".partial.*
tmp=$(mktemp -d "$out.partial.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=$(echo "$version" | cut -d. -f1 | tr -d v) -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
start=$(date +%s)
for b in kube-apiserver kubelet kube-controller-manager kube-scheduler; do
  echo "building $b $version" >&2
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b")
done
echo "building etcd $etcd_version" >&2
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
chmod 755 "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
echo "built Kubernetes $version binaries in $(( $(date +%s) - start ))s" >&2
echo "$out"
