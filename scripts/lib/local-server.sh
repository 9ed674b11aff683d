# shellcheck shell=bash
# Shared by scripts/kafka-local.sh and scripts/s3-local.sh (sourced, not run). The caller sets:
#   SERVER_NAME   prefix of log lines (kafka-local, s3-local)
#   USAGE_LINES   the sed range of the caller's header comment to print as usage (e.g. 2,8p)
#   RUN_BASE      folder of the run dirs; INSTANCE_PREFIX their name prefix (kafka-, s3-)
#   CACHE         the jar cache folder

log() { echo "$SERVER_NAME: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n "$USAGE_LINES" "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# fetch_from_maven DIST LABEL CHECK -- MVN_ARGS...: resolves the artifacts once into DIST (atomic:
# built in a temp folder, then moved), one download at a time even when several runs start
# together. CHECK, relative to DIST, must exist afterwards ('' for none).
fetch_from_maven() {
  local dist=$1 label=$2 check=$3
  shift 4
  [ -f "$dist/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch $label)"
  mkdir -p "$CACHE"
  exec 9>"$dist.lock"
  flock 9
  if [ ! -f "$dist/.complete" ]; then
    log "fetching $label from Maven Central into $dist"
    local tmp="$dist.tmp.$$"
    rm -rf "$tmp"
    mvn -q -B "${@//@TMP@/$tmp}" >&2 || { rm -rf "$tmp"; die "mvn could not resolve $label"; }
    if [ -n "$check" ] && [ ! -e "$tmp/$check" ]; then rm -rf "$tmp"; die "expected $check from mvn"; fi
    rm -rf "$dist"
    mv "$tmp" "$dist"
    touch "$dist/.complete"
  fi
  flock -u 9
  exec 9>&-
}

free_ports() { # N -> N distinct free loopback ports, one per line
  node -e '
    const net = require("net"); const n = +process.argv[1]; const servers = [];
    (async () => {
      for (let i = 0; i < n; i++) {
        const s = net.createServer(); servers.push(s);
        await new Promise((res, rej) => { s.once("error", rej); s.listen(0, "127.0.0.1", res); });
      }
      for (const s of servers) console.log(s.address().port);
      for (const s of servers) s.close();
    })().catch((e) => { console.error(e); process.exit(1); });' "$1"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

instance_dirs() { # [port] -> run dirs of the instances to act on
  if [ -n "${1:-}" ]; then
    [ -d "$RUN_BASE/$INSTANCE_PREFIX$1" ] && echo "$RUN_BASE/$INSTANCE_PREFIX$1"
  else
    ls -d "$RUN_BASE/$INSTANCE_PREFIX"* 2>/dev/null || true
  fi
  return 0
}

port_arg() { # DEFAULT [--port P] -> PORT_ARG
  PORT_ARG="$1"
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) PORT_ARG="${2:-}"; shift 2 ;;
      --port=*) PORT_ARG="${1#*=}"; shift ;;
      *) usage ;;
    esac
  done
}

# cmd_stop DEFAULT_PORT [--port P]: stops (with the caller's stop_instance) and removes instances.
cmd_stop() {
  port_arg "$@"
  local dir found=0
  for dir in $(instance_dirs "$PORT_ARG"); do
    found=1
    stop_instance "$dir"
    log "stopped ${dir##*/}"
  done
  [ "$found" -eq 1 ] || log "nothing to stop${PORT_ARG:+ on port $PORT_ARG}"
}
