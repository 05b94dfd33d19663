# shellcheck shell=bash
# Shared helpers for the infra/*.sh scripts. Source it, do not run it.
#
# Sets: INFRA_DIR, REPO_ROOT, XINREN_STATE_DIR, XINREN_CACHE_DIR.

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd -P)"

XINREN_STATE_DIR="${XINREN_STATE_DIR:-$REPO_ROOT/.run}"
XINREN_CACHE_DIR="${XINREN_CACHE_DIR:-${HOME:-/root}/.cache/xinren}"

# Relative paths would break once a script cds (or runs a command as another user).
case "$XINREN_STATE_DIR" in /*) ;; *) XINREN_STATE_DIR="$PWD/$XINREN_STATE_DIR" ;; esac
case "$XINREN_CACHE_DIR" in /*) ;; *) XINREN_CACHE_DIR="$PWD/$XINREN_CACHE_DIR" ;; esac
export XINREN_STATE_DIR XINREN_CACHE_DIR

_infra_tag="${INFRA_TAG:-infra}"

log() { printf '[%s] %s\n' "$_infra_tag" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$_infra_tag" "$*" >&2; exit 1; }

# now_ms: milliseconds since the epoch (for timing messages).
now_ms() { date +%s%3N; }

# require_port VAR VALUE: dies unless VALUE is a TCP port number.
require_port() {
  if ! [[ "$2" =~ ^[0-9]{1,5}$ ]] || (( 10#$2 < 1 || 10#$2 > 65535 )); then
    die "$1 must be a TCP port number, got '$2'"
  fi
}

# port_open PORT: 0 if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# pid_alive PID: 0 if a process with that pid exists (and is not a zombie).
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z* ]]
}

# apt_install PKG...: installs Debian packages (root only). apt-get update runs
# first; a lock file serialises the scripts that up.sh starts in parallel.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  [[ "$(id -u)" == 0 ]] || die "$* missing and not running as root; install them: sudo apt-get install -y $*"
  log "installing Debian packages: $* (apt-get update && apt-get install -y)"
  (
    # flock is in util-linux, which Debian always has.
    flock -w 900 9 || die "timed out waiting for another apt-get run"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -q >&2 || die "apt-get update failed"
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" >&2 \
      || die "apt-get install $* failed"
  ) 9>/var/lock/xinren-apt.lock
}
