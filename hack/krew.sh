#!/usr/bin/env bash
# Builds krew's manifest validator (validate-krew-manifest), krew itself and
# hack/tools/krew/check from the pinned tools module in hack/tools/krew, once per pin,
# into a cache outside the work tree, and prints the folder. A warm cache returns at
# once. `make release` runs check on the krew manifest it made.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod="$here/tools/krew"
version=$(awk '{for (i = 1; i < NF; i++) if ($i == "sigs.k8s.io/krew") { print $(i+1); exit }}' "$mod/go.mod")
cache=${REGCRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regcred}
# The key covers the module's files, so any change to the pins or to check builds afresh.
key=$(cat "$mod/go.mod" "$mod/go.sum" "$mod"/check/*.go | sha256sum | cut -c1-12)
out="$cache/krew/$version-$key"
if [ -x "$out/check" ]; then echo "$out"; exit 0; fi

mkdir -p "$(dirname "$out")"
# Build beside the target and rename, so that concurrent builds never see half a folder.
tmp=$(mktemp -d "$out.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "building krew $version" >&2
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -o "$tmp/" sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest ./check)
rm -rf "$out" && mv "$tmp" "$out"
echo "built krew $version in $(( $(date +%s) - start ))s" >&2
echo "$out"
