#!/usr/bin/env bash
# Builds the real control plane from Go modules into a cache outside the repo:
# etcd, kube-apiserver, kube-scheduler, kube-controller-manager and kwok; and the published
# CRDs every cluster gets (kwok's Exec and Logs, Volcano's PodGroup, Karmada's
# PropagationPolicy), taken from the same projects' Go modules.
# Rebuilt only when a pinned version changes. Prints the bin directory on its last line.
#   build-binaries.sh            build what is missing, print the bin dir
#   build-binaries.sh --print    print the bin dir only (no build)
set -euo pipefail

KUBE_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
VOLCANO_APIS_VERSION=v1.12.1       # volcano.sh/volcano itself is not served by the proxy
CONTROLLER_TOOLS_VERSION=v0.17.2   # controller-gen, to render the PodGroup CRD from its types
KARMADA_VERSION=v1.13.0            # v1.14.0 and later are refused (403) by the proxy

CACHE=${DATALOCALITY_CACHE:-$HOME/.cache/datalocality}
ROOT=$CACHE/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION
BIN=$ROOT/bin
BINARIES=(etcd kube-apiserver kube-scheduler kube-controller-manager kwok)

if [[ "${1:-}" == "--print" ]]; then echo "$BIN"; exit 0; fi
cd "$(dirname "$0")"

find_missing() {
  missing=()
  for b in "${BINARIES[@]}"; do [[ -x $BIN/$b ]] || missing+=("$b"); done
  [[ -f $ROOT/crds/kwok.x-k8s.io_execs.yaml ]] || missing+=(kwok-crds)
  [[ -f $ROOT/crds/.volcano-$VOLCANO_APIS_VERSION ]] || missing+=(volcano-crds)
  [[ -f $ROOT/crds/.karmada-$KARMADA_VERSION ]] || missing+=(karmada-crds)
}
find_missing
if [[ ${#missing[@]} -eq 0 ]]; then echo "$BIN"; exit 0; fi
# one build at a time (make's and a test fixture's would delete each other's work tree);
# a second caller waits for the first and then finds what it built
mkdir -p "$ROOT"
exec 9>"$ROOT/build.lock"
flock 9
find_missing
if [[ ${#missing[@]} -eq 0 ]]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin  # where the machines install it
command -v go >/dev/null || { echo "build-binaries: the Go toolchain (1.26) is needed: go is not on PATH" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
mkdir -p "$BIN" "$ROOT/src"
log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$SECONDS
log "building ${missing[*]} into $BIN ($(go version | cut -d' ' -f3), $(nproc) cores)"

need() { local b; for b in "$@"; do [[ " ${missing[*]} " == *" $b "* ]] && return 0; done; return 1; }
# the directory of a downloaded module (the module cache's read-only copy)
module_dir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'; }

if need etcd; then
  log "etcd $ETCD_VERSION: wrapper module"
  d=$ROOT/src/etcd; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init datalocality.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  log "etcd: compiling"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "etcd done ($((SECONDS - start)) s so far)"
fi

if need kwok; then
  log "kwok $KWOK_VERSION"
  GOBIN=$ROOT/src/kwok-bin go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$ROOT/src/kwok-bin/kwok" "$BIN/kwok"
  log "kwok done ($((SECONDS - start)) s so far)"
fi

if need kwok-crds; then
  # the CRDs of kwok's Exec and Logs, from the same module version
  dir=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")
  mkdir -p "$ROOT/crds"
  cp "$dir"/kustomize/crd/bases/kwok.x-k8s.io_{execs,logs}.yaml "$ROOT/crds/"
fi

if need volcano-crds; then
  # volcano.sh/apis ships the PodGroup types, not their CRD: controller-gen renders it, in a
  # writable copy of the module (the module cache is read-only)
  log "Volcano PodGroup CRD from volcano.sh/apis@$VOLCANO_APIS_VERSION (controller-gen $CONTROLLER_TOOLS_VERSION)"
  dir=$(module_dir "volcano.sh/apis@$VOLCANO_APIS_VERSION")
  GOBIN=$ROOT/src/tools go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
  d=$ROOT/src/volcano-apis; rm -rf "$d" "$d.out"; cp -r "$dir" "$d"; chmod -R u+w "$d"
  (cd "$d" && "$ROOT/src/tools/controller-gen" crd paths=./pkg/apis/scheduling/v1beta1/... "output:crd:dir=$d.out")
  mkdir -p "$ROOT/crds"
  install -m 0644 "$d.out/scheduling.volcano.sh_podgroups.yaml" "$ROOT/crds/"
  touch "$ROOT/crds/.volcano-$VOLCANO_APIS_VERSION"
  log "Volcano CRD done ($((SECONDS - start)) s so far)"
fi

if need karmada-crds; then
  # Karmada's control plane is a kube-apiserver with its CRDs: the policy CRD as published
  log "Karmada PropagationPolicy CRD from github.com/karmada-io/karmada@$KARMADA_VERSION"
  dir=$(module_dir "github.com/karmada-io/karmada@$KARMADA_VERSION")
  mkdir -p "$ROOT/crds"
  install -m 0644 "$dir/charts/karmada/_crds/bases/policy/policy.karmada.io_propagationpolicies.yaml" "$ROOT/crds/"
  touch "$ROOT/crds/.karmada-$KARMADA_VERSION"
fi

kube=()
for b in kube-apiserver kube-scheduler kube-controller-manager; do need "$b" && kube+=("$b"); done
if [[ ${#kube[@]} -gt 0 ]]; then
  log "kubernetes $KUBE_VERSION: wrapper module pinning the staging modules"
  d=$ROOT/src/kubernetes; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}; patch=${KUBE_VERSION##*.}
  staging_version=v0.$minor.$patch
  {
    echo "module datalocality.local/kubernetes"
    echo
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    # every "k8s.io/NAME => ./staging/src/k8s.io/NAME" of kubernetes' own go.mod, at the matching tag
    sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._/-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
    echo ")"
  } > go.mod
  log "$(grep -c '=>' go.mod) staging modules pinned at $staging_version"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  for b in "${kube[@]}"; do
    log "$b: compiling (the first build on 2 cores takes many minutes)"
    go build -trimpath -ldflags "$ldflags" -o "$BIN/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$BIN/$b.tmp" "$BIN/$b"
    log "$b done ($((SECONDS - start)) s so far)"
  done
fi
log "all built in $((SECONDS - start)) s"
echo "$BIN"
