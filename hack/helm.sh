#!/usr/bin/env bash
# Builds helm from the pinned tools module in hack/tools/helm, once per pin, into a
# cache outside the work tree, and prints the binary's path. A warm cache returns at
# once. `make helm` copies it to bin/helm; the chart tests (test/helmbin) run it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod="$here/tools/helm"
version=$(awk '{for (i = 1; i < NF; i++) if ($i == "helm.sh/helm/v4") { print $(i+1); exit }}' "$mod/go.mod")
cache=${REGCRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regcred}
# The key covers go.mod and go.sum, so any change to the pins builds afresh.
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
out="$cache/helm/$version-$key"
if [ -x "$out/helm" ]; then echo "$out/helm"; exit 0; fi

mkdir -p "$out"
# Build beside the target and rename, so that concurrent builds never see half a file.
tmp=$(mktemp "$out/.helm.XXXXXX")
trap 'rm -f "$tmp"' EXIT
start=$(date +%s)
echo "building helm $version" >&2
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" -o "$tmp" helm.sh/helm/v4/cmd/helm)
chmod 0755 "$tmp"
mv -f "$tmp" "$out/helm"
echo "built helm $version in $(( $(date +%s) - start ))s" >&2
echo "$out/helm"
