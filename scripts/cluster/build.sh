#!/usr/bin/env bash
# Builds the real Kubernetes cluster the install tests and the demo run against, from Go modules at pinned
# versions: kube-apiserver, kube-controller-manager, kube-scheduler and the node's kubelet from
# k8s.io/kubernetes, and etcd from go.etcd.io/etcd/server/v3 (the node's container runtime is Debian's containerd). The binaries are cached outside the work tree, keyed by version
# ($AIRGAP_BUILD_CACHE, default ~/.cache/airgap-bundle/build): a warm machine rebuilds nothing.
# Prints the folder holding the binaries on its last line. A first build takes ~10-20 minutes on 2 cores (Go 1.24 or
# newer; Go 1.21-1.23 fetch it through the module proxy).
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CACHE=${AIRGAP_BUILD_CACHE:-$HOME/.cache/airgap-bundle/build}
BIN=$CACHE/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION/bin
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)

command -v go >/dev/null || { echo "cluster build: the Go toolchain is missing (it builds the control plane from Go modules)" >&2; exit 2; }
mkdir -p "$BIN"
missing=()
for c in "${COMPONENTS[@]}" etcd; do [ -x "$BIN/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$BIN"; exit 0; fi
# k8s.io/kubernetes v1.34 needs Go 1.24. Go 1.21 and later fetch a newer toolchain themselves through the module
# proxy (GOTOOLCHAIN=auto); an older Go (Debian bookworm's golang-go is 1.19) cannot, and is refused here in words.
go_have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
if [ -z "$go_have" ] || ! printf '1.21\n%s\n' "${go_have%%[-+ ]*}" | sort -V -C; then
  echo "cluster build: Go ${go_have:-older than 1.21} cannot build Kubernetes $K8S_VERSION: it needs Go 1.24 (Go 1.21 or newer fetches it by itself); install a newer Go than Debian's golang-go" >&2
  exit 2
fi

# k8s.io/kubernetes is not meant to be built outside its repository: its staging modules (k8s.io/api, …) are
# replaced by folders there. Here each is pinned to the matching v0.x release instead.
minor=${K8S_VERSION#v1.}
staging_version=v0.$minor
work=$CACHE/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION/module
mkdir -p "$work"
mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module airgap-bundle.local/control-plane"
  echo
  echo "go 1.24.0"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  grep -E '=> \./staging/' "$mod" | awk -v v="$staging_version" '{ print "replace " $1 " => " $1 " " v }'
} >"$work/go.mod"
cd "$work"
export GOFLAGS=-mod=mod
for c in "${missing[@]}"; do
  [ "$c" = etcd ] && continue
  echo "cluster build: $c $K8S_VERSION (a first build takes minutes)" >&2
  go get "k8s.io/kubernetes/cmd/$c@$K8S_VERSION" >/dev/null 2>&1 || true
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
  mv "$BIN/$c.tmp" "$BIN/$c"
done
if [[ " ${missing[*]} " == *" etcd "* ]]; then
  echo "cluster build: etcd $ETCD_VERSION" >&2
  etcdwork=$CACHE/etcd-$ETCD_VERSION/module
  mkdir -p "$etcdwork"
  (cd "$etcdwork" && [ -f go.mod ] || (cd "$etcdwork" && go mod init airgap-bundle.local/etcd >/dev/null 2>&1))
  (cd "$etcdwork" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi
echo "$BIN"
