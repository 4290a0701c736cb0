#!/usr/bin/env bash
# Build the real cluster's binaries from the Go module proxy into a cache outside the repository, keyed by version:
#
#   ${MT_CLUSTER_CACHE:-$HOME/.cache/mt-verify/cluster}/<piece>-<version>/<piece>
#
# Pieces: kube-apiserver, kube-controller-manager, kube-scheduler (sandbox/cluster/go/kube), kine (etcd API over
# SQLite), kwok (fake nodes and pod status) and helm, each from its module under sandbox/cluster/go/. Idempotent:
# a piece whose binary is in the cache (and answers --version) is not built again. Versions are stamped with ldflags
# so `kube-apiserver --version` and `helm version` tell the truth. A piece that cannot be built leaves
# <piece>-<version>.failed beside the cache entries (the last lines of its log: the module the proxy refused);
# the real-cluster selftests skip with that text.
#
#   bash scripts/build-cluster.sh            build what the cache lacks (progress and time on stderr)
#   bash scripts/build-cluster.sh --check    build nothing; exit 1 and name what is missing
#   bash scripts/build-cluster.sh --paths    print "piece=path" for every piece (built or not)
#   bash scripts/build-cluster.sh PIECE...   only these pieces
#
# Cold, on 2 cores: kube-apiserver about 10 min, the other two kube pieces a few minutes more each (shared build
# cache), kine, kwok and helm a few minutes each. GOMODCACHE and GOCACHE stay where Go puts them (outside the repo).
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GO_DIR="$ROOT/sandbox/cluster/go"
CACHE="${MT_CLUSTER_CACHE:-$HOME/.cache/mt-verify/cluster}"
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=0

MODE=build
PIECES=()
for arg in "$@"; do
  case "$arg" in
    --check) MODE=check ;;
    --paths) MODE=paths ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) PIECES+=("$arg") ;;
  esac
done
ALL=(kube-apiserver kine kube-controller-manager kube-scheduler kwok helm)
[ ${#PIECES[@]} -eq 0 ] && PIECES=("${ALL[@]}")

say() { echo "build-cluster: $*" >&2; }

# piece -> module directory, main package, module whose version keys the cache
module_dir() { case "$1" in kube-*) echo kube ;; *) echo "$1" ;; esac; }
main_pkg() {
  case "$1" in
    kube-*) echo "k8s.io/kubernetes/cmd/$1" ;;
    kine) echo "github.com/k3s-io/kine" ;;
    kwok) echo "sigs.k8s.io/kwok/cmd/kwok" ;;
    helm) echo "helm.sh/helm/v3/cmd/helm" ;;
  esac
}
key_module() {
  case "$1" in
    kube-*) echo "k8s.io/kubernetes" ;;
    kine) echo "github.com/k3s-io/kine" ;;
    kwok) echo "sigs.k8s.io/kwok" ;;
    helm) echo "helm.sh/helm/v3" ;;
  esac
}
# The version a module's go.mod requires (read without the network: go.mod is plain text).
required() { awk -v m="$2" '$1 == "require" && $2 == m {print $3} $1 == m && NF >= 2 && $2 ~ /^v/ {print $2}' \
  "$GO_DIR/$1/go.mod" | head -1; }

version_of() { required "$(module_dir "$1")" "$(key_module "$1")"; }
binary_of() { echo "$CACHE/$1-$(version_of "$1")/$1"; }

ldflags() {
  local piece="$1" v; v="$(version_of "$piece")"
  case "$piece" in
    kube-*)
      local major minor out="-s -w"; major="${v#v}"; major="${major%%.*}"; minor="$(echo "$v" | cut -d. -f2)"
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        out="$out -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
        out="$out -X $p.buildDate=2026-01-01T00:00:00Z"
      done
      echo "$out" ;;
    kine) echo "-s -w -X github.com/k3s-io/kine/pkg/version.Version=$v -X github.com/k3s-io/kine/pkg/version.GitCommit=$v" ;;
    kwok)
      local kv; kv="$(required kwok k8s.io/api)"; kv="1.${kv#v0.}"
      echo "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$kv" ;;
    helm)
      local kv major minor; kv="$(required helm k8s.io/client-go)"; minor="$(echo "$kv" | cut -d. -f2)"
      major=1
      echo "-s -w -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
           "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor" \
           "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" ;;
  esac
}

works() { # the cached binary exists and says its version
  local bin; bin="$(binary_of "$1")"
  [ -x "$bin" ] || return 1
  case "$1" in
    helm) "$bin" version --short >/dev/null 2>&1 ;;
    kwok|kine) "$bin" --version >/dev/null 2>&1 || "$bin" --help >/dev/null 2>&1 ;;
    *) "$bin" --version >/dev/null 2>&1 ;;
  esac
}

if [ "$MODE" = paths ]; then
  for p in "${PIECES[@]}"; do echo "$p=$(binary_of "$p")"; done
  exit 0
fi
if [ "$MODE" = check ]; then
  missing=0
  for p in "${PIECES[@]}"; do
    if works "$p"; then say "$p $(version_of "$p"): cached at $(binary_of "$p")"
    else say "$p $(version_of "$p"): MISSING (bash scripts/build-cluster.sh $p)"; missing=1; fi
  done
  exit $missing
fi

if ! command -v go >/dev/null; then
  say "go not found (expected /usr/local/go/bin/go): nothing built"
  exit 2
fi
mkdir -p "$CACHE"
total_start=$(date +%s)
failed=0
for p in "${PIECES[@]}"; do
  v="$(version_of "$p")"
  if [ -z "$v" ]; then say "$p: no version in $GO_DIR/$(module_dir "$p")/go.mod"; failed=1; continue; fi
  dest="$CACHE/$p-$v"
  if works "$p"; then say "$p $v: cached ($dest)"; continue; fi
  say "$p $v: building $(main_pkg "$p") (cold builds take minutes; log: $dest.log) ..."
  mkdir -p "$dest"
  start=$(date +%s)
  if (cd "$GO_DIR/$(module_dir "$p")" && go build -trimpath -ldflags "$(ldflags "$p")" -o "$dest/$p.tmp" \
        "$(main_pkg "$p")") >"$dest.log" 2>&1; then
    mv "$dest/$p.tmp" "$dest/$p"
    rm -f "$CACHE/$p-$v.failed"
    secs=$(( $(date +%s) - start ))
    echo "$secs" > "$dest/build-seconds"
    say "$p $v: built in ${secs} s"
  else
    rm -f "$dest/$p.tmp"
    { echo "go build $(main_pkg "$p") (module $(key_module "$p")@$v) failed:"; tail -n 15 "$dest.log"; } \
      > "$CACHE/$p-$v.failed"
    say "$p $v: FAILED after $(( $(date +%s) - start )) s:"
    tail -n 15 "$dest.log" >&2
    failed=1
  fi
done
say "done in $(( $(date +%s) - total_start )) s; cache: $CACHE"
exit $failed
