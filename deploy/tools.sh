#!/usr/bin/env bash
# The pinned tools the deployment checks need, fetched once into the cache (like infra/kafka.sh fetches Kafka):
#
#   helm          helm lint / helm template of deploy/helm/xinren      go install helm.sh/helm/v3/cmd/helm
#   kubeconform   validates the rendered manifests (-strict)          go install github.com/yannh/kubeconform
#   k8s-schemas   Kubernetes JSON schemas for kubeconform, offline    PyPI kubernetes-validate (ships them)
#   promtool      promtool check rules / test rules                   Debian's prometheus package (unpacked only)
#   redocly       @redocly/cli lint of the OpenAPI documents          npm, pinned by package-lock.json
#
# Usage: deploy/tools.sh fetch [TOOL...]   fetch what is not cached yet (all tools by default)
#        deploy/tools.sh path TOOL         print the tool's path (fetching it first if needed)
#        deploy/tools.sh versions          print the pinned versions
#
# First fetch on a 2-core machine: helm ~6 min (a Go build), kubeconform ~1.5 min, the rest seconds; afterwards
# nothing is fetched. Each tool lives in $XINREN_CACHE_DIR/tools/<tool>-<version>; the Go builds' module and build
# caches are removed once the binary is there. Needs: go (1.22+), npm (node 20.19+), python3, apt-get (promtool).
set -euo pipefail

INFRA_TAG=tools
# shellcheck source=infra/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../infra" && pwd -P)/lib.sh"

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
K8S_SCHEMAS_PACKAGE=kubernetes-validate==1.37.0
KUBERNETES_VERSION=1.33.0  # the Kubernetes release whose schemas the manifests are checked against
PROMETHEUS_DEB=prometheus  # Debian's package; its promtool is used as Debian ships it (bookworm: 2.42)

TOOLS_DIR="$XINREN_CACHE_DIR/tools"
ALL=(helm kubeconform k8s-schemas promtool redocly)

lock_hash() { sha256sum "$REPO_ROOT/package-lock.json" | cut -c1-12; }

dir_of() {
  case "$1" in
    helm) echo "$TOOLS_DIR/helm-$HELM_VERSION" ;;
    kubeconform) echo "$TOOLS_DIR/kubeconform-$KUBECONFORM_VERSION" ;;
    k8s-schemas) echo "$TOOLS_DIR/k8s-schemas-${K8S_SCHEMAS_PACKAGE#*==}-v$KUBERNETES_VERSION" ;;
    promtool) echo "$TOOLS_DIR/promtool" ;;
    redocly) echo "$TOOLS_DIR/redocly-$(lock_hash)" ;;
    *) die "unknown tool '$1' (known: ${ALL[*]})" ;;
  esac
}

# path_in DIR TOOL: where the tool is inside its cache directory.
path_in() {
  case "$2" in
    helm) echo "$1/helm" ;;
    kubeconform) echo "$1/kubeconform" ;;
    k8s-schemas) echo "$1" ;;
    promtool) echo "$1/promtool" ;;
    redocly) echo "$1/node_modules/.bin/redocly" ;;
  esac
}

go_install() {  # go_install DIR PACKAGE@VERSION
  command -v go >/dev/null 2>&1 || die "go is not installed: the Go toolchain (1.22+) builds $2; install it or put it on PATH"
  local work="$1.go.$$"
  # Caches of their own, writable, removed afterwards: the binary is all that is kept.
  if ! GOBIN="$1.tmp" GOMODCACHE="$work/mod" GOCACHE="$work/build" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
      nice -n 10 go install "$2" >"$work.log" 2>&1; then
    tail -n 20 "$work.log" >&2
    rm -rf "$work" "$work.log" "$1.tmp"
    die "go install $2 failed (the Go module proxy must be reachable)"
  fi
  rm -rf "$work" "$work.log"
}

fetch_helm() { go_install "$1" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; }
fetch_kubeconform() { go_install "$1" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"; }

fetch_k8s-schemas() {
  local python="$REPO_ROOT/.venv/bin/python"
  [[ -x "$python" ]] || python=python3
  mkdir -p "$1.tmp"
  "$python" -m pip download -q --no-deps "$K8S_SCHEMAS_PACKAGE" -d "$1.tmp/wheel" >&2 \
    || die "pip could not download $K8S_SCHEMAS_PACKAGE from PyPI"
  # The package's 'local' schemas refer to one definitions file by an absolute URL (its own resolver's); rewritten to
  # a relative reference and without $id, kubeconform resolves them from the files next to each other, offline.
  "$python" - "$1.tmp" "v$KUBERNETES_VERSION" <<'PY'
import json, pathlib, sys, zipfile
out, version = pathlib.Path(sys.argv[1]), sys.argv[2]
wheel = next((out / "wheel").glob("*.whl"))
prefix = f"kubernetes_validate/kubernetes-json-schema/{version}-local-strict/"
target = out / f"{version}-local-strict"
target.mkdir(parents=True, exist_ok=True)
count = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and name.endswith(".json"):
            text = z.read(name).decode().replace('"/api/_definitions.json#', '"_definitions.json#')
            doc = json.loads(text)
            doc.pop("$id", None)
            (target / name[len(prefix):]).write_text(json.dumps(doc))
            count += 1
if count < 100:
    sys.exit(f"{wheel.name} has no schemas for Kubernetes {version}")
PY
  rm -rf "$1.tmp/wheel"
}

fetch_promtool() {
  local tmp="$1.tmp/deb"
  mkdir -p "$tmp"
  # Downloaded and unpacked only: installing the package would also start a Prometheus server.
  if ! (cd "$tmp" && apt-get download -q "$PROMETHEUS_DEB" >/dev/null 2>&1); then
    [[ "$(id -u)" == 0 ]] || die "apt-get download $PROMETHEUS_DEB failed; as root, run apt-get update first"
    log "apt-get update (the package lists are missing or stale)"
    apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null || die "apt-get update failed"
    (cd "$tmp" && apt-get download -q "$PROMETHEUS_DEB" >/dev/null 2>&1) \
      || die "apt-get download $PROMETHEUS_DEB failed: Debian's package server must be reachable"
  fi
  dpkg-deb -x "$tmp"/"$PROMETHEUS_DEB"_*.deb "$tmp/x"
  mv "$tmp/x/usr/bin/promtool" "$1.tmp/promtool"
  rm -rf "$tmp"
}

fetch_redocly() {
  command -v npm >/dev/null 2>&1 || die "npm is not installed: node 20.19+ with npm runs @redocly/cli"
  mkdir -p "$1.tmp"
  cp "$REPO_ROOT/package.json" "$REPO_ROOT/package-lock.json" "$1.tmp/"
  (cd "$1.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) \
    || die "npm ci of @redocly/cli failed (the npm registry must be reachable)"
}

# fetch_one TOOL: fetches into a temporary directory, then renames it, so a cached tool is always whole.
fetch_one() {
  local tool="$1" dir
  dir="$(dir_of "$tool")"
  [[ -f "$dir/.complete" ]] && return 0
  mkdir -p "$TOOLS_DIR"
  exec 9>"$dir.lock"
  flock -w 1200 9 || die "timed out waiting for another fetch of $tool ($dir.lock)"
  if [[ ! -f "$dir/.complete" ]]; then
    local t0
    t0="$(now_ms)"
    log "fetching $tool into $dir"
    rm -rf "$dir" "$dir.tmp"
    "fetch_$tool" "$dir"
    touch "$dir.tmp/.complete"
    mv "$dir.tmp" "$dir"
    log "fetched $tool in $(( ($(now_ms) - t0) / 1000 ))s"
  fi
  exec 9>&-
}

case "${1:-}" in
  fetch)
    shift
    tools=("$@")
    (( ${#tools[@]} )) || tools=("${ALL[@]}")
    for tool in "${tools[@]}"; do fetch_one "$tool"; done
    ;;
  path)
    [[ $# -eq 2 ]] || die "usage: $0 path TOOL"
    fetch_one "$2"
    path_in "$(dir_of "$2")" "$2"
    ;;
  versions)
    echo "helm $HELM_VERSION"
    echo "kubeconform $KUBECONFORM_VERSION"
    echo "k8s-schemas $K8S_SCHEMAS_PACKAGE (Kubernetes $KUBERNETES_VERSION)"
    echo "promtool from Debian's $PROMETHEUS_DEB package"
    echo "redocly $(sed -n 's/.*"@redocly\/cli": "\([^"]*\)".*/\1/p' "$REPO_ROOT/package.json")"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
