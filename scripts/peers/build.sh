#!/usr/bin/env bash
# Builds the peers the bench measures us against, the second registry implementation the tests run against and
# the OCI distribution-spec conformance suite (its pull side runs against bundle serve),
# from Go modules at pinned versions: crane, oras, regctl, distribution v3's registry, and Helm (the chart tests'
# independent packer, pusher and puller). Hauler is tried too.
# Binaries are cached outside the work tree, keyed by module and version ($AIRGAP_BUILD_CACHE, default
# ~/.cache/airgap-bundle/build/peers): a warm machine rebuilds nothing. A peer that cannot be built is named with
# its error on stderr and in FAILED beside the binaries; the others are built all the same (exit 0). Prints the
# folder holding the binaries on its last line.
set -uo pipefail
CACHE=${AIRGAP_BUILD_CACHE:-$HOME/.cache/airgap-bundle/build}/peers
PEERS=(
  "crane github.com/google/go-containerregistry/cmd/crane v0.22.1"
  "oras oras.land/oras/cmd/oras v1.3.6"
  "regctl github.com/regclient/regclient/cmd/regctl v0.11.7"
  "registry-v3 github.com/distribution/distribution/v3/cmd/registry v3.1.2"
  "hauler github.com/hauler-dev/hauler/cmd/hauler v1.3.1"
  "oci-conformance github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111"
  "helm helm.sh/helm/v4/cmd/helm v4.3.2"
)
command -v go >/dev/null || { echo "peers build: the Go toolchain is missing" >&2; exit 2; }
BIN=$CACHE/bin
mkdir -p "$BIN"
: >"$CACHE/FAILED.new"
for peer in "${PEERS[@]}"; do
  read -r name pkg version <<<"$peer"
  target=$BIN/$name-$version
  [ -x "$target" ] && { ln -sf "$name-$version" "$BIN/$name"; continue; }
  echo "peers build: $name $version ($pkg)" >&2
  gobin=$CACHE/gobin-$name-$version
  mkdir -p "$gobin"
  if out=$(CGO_ENABLED=0 GOBIN=$gobin go install -trimpath -ldflags "-s -w" "$pkg@$version" 2>&1); then
    mv "$gobin/$(basename "$pkg")" "$target" && ln -sf "$name-$version" "$BIN/$name"
  else
    reason=$(printf '%s\n' "$out" | grep -v '^go: downloading' | head -3 | tr '\n' ' ')
    echo "peers build: $name $version cannot be built: $reason" >&2
    echo "$name $version $pkg: $reason" >>"$CACHE/FAILED.new"
  fi
  rm -rf "$gobin"
done
mv "$CACHE/FAILED.new" "$BIN/FAILED"
echo "$BIN"
