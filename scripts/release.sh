#!/usr/bin/env bash
# Builds the release binaries: static (CGO_ENABLED=0), trimmed, with the
# version stamped in, for linux/amd64, linux/arm64, darwin/arm64 and
# windows/amd64, and their SHA-256 sums.
#   scripts/release.sh v1.2.3 [DIR]        (DIR defaults to dist/)
#   PLATFORMS="linux/arm64" scripts/release.sh v1.2.3 /tmp/out
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/release.sh VERSION [DIR]}
out=${2:-dist}
platforms=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/arm64 windows/amd64"}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/pullpush/pullpush/internal/buildinfo
ldflags="-s -w -X $pkg.version=$version -X $pkg.revision=$revision -X $pkg.buildTime=$built"

mkdir -p "$out"
names=()
for p in $platforms; do
  os=${p%/*} arch=${p#*/}
  name="pullpush-$version-$os-$arch"
  [ "$os" = windows ] && name="$name.exe"
  echo "building $name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$out/$name" ./cmd/pullpush
  names+=("$name")
done
(cd "$out" && sha256sum "${names[@]}" > SHA256SUMS)
echo "wrote ${#names[@]} binaries and SHA256SUMS to $out"
