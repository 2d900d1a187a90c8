#!/usr/bin/env bash
# Builds Argo Workflows' workflow-controller from its Go module into a cache outside the
# repo, with the module's minimal CRDs (manifests/base/crds/minimal, what Argo's install
# manifests ship: a Workflow's spec is x-kubernetes-preserve-unknown-fields). The full ones
# (manifests/base/crds/full, 1 MB of JSON schema for Workflow alone) are accepted by a plain
# create, but the apiserver takes about 14 s to establish them (minimal: under 1 s), and
# their structural schema would silently prune unknown fields; the provider's workflows
# are checked against Argo's schema elsewhere (datalocality.argo.schema).
# Rebuilt only when the pinned version changes. Prints the bin directory on its last line.
#   build-argo.sh            build what is missing, print the bin dir
#   build-argo.sh --print    print the bin dir only (no build)
set -euo pipefail

# v3.x up to 3.7.14 have a published advisory (CVE-2026-54526, fixed in 3.7.15); v4 too
ARGO_VERSION=v3.7.18
MODULE=github.com/argoproj/argo-workflows/v3

CACHE=${DATALOCALITY_CACHE:-$HOME/.cache/datalocality}
ROOT=$CACHE/argo-$ARGO_VERSION
BIN=$ROOT/bin

if [[ "${1:-}" == "--print" ]]; then echo "$BIN"; exit 0; fi

built() { [[ -x $BIN/workflow-controller && -f $ROOT/crds/.argo-$ARGO_VERSION ]]; }
if built; then echo "$BIN"; exit 0; fi
# one build at a time (make's and a test fixture's would delete each other's work tree);
# a second caller waits for the first and then finds what it built
mkdir -p "$ROOT"
exec 9>"$ROOT/build.lock"
flock 9
if built; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin  # where the machines install it
command -v go >/dev/null || { echo "build-argo: the Go toolchain (1.25.7 or later) is needed: go is not on PATH" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
log() { printf '[build-argo %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$SECONDS
log "workflow-controller $ARGO_VERSION into $BIN ($(go version | cut -d' ' -f3), $(nproc) cores)"

# the module's go.mod (its go directive and replace lines) and its files (the CRDs), from
# the module cache's read-only copy
download=$(go mod download -json "$MODULE@$ARGO_VERSION")
gomod=$(sed -n 's/.*"GoMod": "\(.*\)",/\1/p' <<<"$download")
dir=$(sed -n 's/.*"Dir": "\(.*\)",/\1/p' <<<"$download")

d=$ROOT/src/workflow-controller; rm -rf "$d"; mkdir -p "$d" "$BIN"; cd "$d"
{
  echo "module datalocality.local/argo"
  echo
  echo "go $(sed -n 's/^go //p' "$gomod")"
  echo
  echo "require $MODULE $ARGO_VERSION"
  echo
  # a dependency's replace lines are ignored: the wrapper repeats them (those to a module
  # version; a replacement by a local directory would not resolve here)
  echo "replace ("
  awk '/^replace \($/ {block = 1; next}
       block && /^\)/ {block = 0; next}
       block {print}
       /^replace [^(]/ {sub(/^replace /, ""); print}' "$gomod" |
    { grep -v '=> *\.\{0,2\}/' || true; } | sed 's/^[[:space:]]*/\t/'
  echo ")"
} > go.mod
log "$(grep -c '=>' go.mod) replace line(s) copied from $MODULE's go.mod; compiling"
go build -trimpath -ldflags "-s -w -X $MODULE.version=$ARGO_VERSION" \
  -o "$BIN/workflow-controller.tmp" "$MODULE/cmd/workflow-controller"
mv "$BIN/workflow-controller.tmp" "$BIN/workflow-controller"

rm -rf "$ROOT/crds.tmp"; mkdir -p "$ROOT/crds.tmp"
install -m 0644 "$dir"/manifests/base/crds/minimal/argoproj.io_*.yaml "$ROOT/crds.tmp/"
touch "$ROOT/crds.tmp/.argo-$ARGO_VERSION"
rm -rf "$ROOT/crds"; mv "$ROOT/crds.tmp" "$ROOT/crds"
log "done in $((SECONDS - start)) s"
echo "$BIN"
