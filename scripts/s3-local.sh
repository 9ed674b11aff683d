#!/usr/bin/env bash
# A real S3-compatible server on loopback for integration tests, without Docker.
#
#   scripts/s3-local.sh start          start one; prints S3_ENDPOINT=, S3_ACCESS_KEY_ID=, S3_SECRET_ACCESS_KEY=,
#                                      S3_REGION= lines on stdout (path-style addressing only)
#   scripts/s3-local.sh stop [--port P]    stop one instance, or all, and delete its data
#   scripts/s3-local.sh status [--port P]  say which instances are running (exit 1 if none)
#
# The server is S3Proxy (org.gaul:s3proxy, filesystem backend, SigV4 checked) or, with
# S3_SERVER=s3mock, Adobe S3Mock (accepts any credentials). Its jar comes from Maven Central through
# deploy/test-servers/s3/pom.xml and is cached in .cache/<server>-<version>/; each instance lives in
# .cache/run/s3-<port>/ (config, data, server.log, pid). Progress goes to stderr.
#
# Environment:
#   S3_SERVER            s3proxy (default) or s3mock
#   S3_PORT              port (default: a free loopback port)
#   S3_BUCKETS           comma-separated buckets to create at start (default: none)
#   S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY   test-only credentials the server accepts (default test / test)
#   S3_REGION            region to print for clients (default us-east-1; the servers accept any)
#   S3_JAVA_OPTS         JVM flags (default: small heap, serial GC, C1 only)
#   S3_START_TIMEOUT     seconds to wait for readiness (default 60)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S3_SERVER="${S3_SERVER:-s3proxy}"
S3PROXY_VERSION="${S3PROXY_VERSION:-4.1.0}"
S3MOCK_VERSION="${S3MOCK_VERSION:-5.2.0}"
POM="$ROOT/deploy/test-servers/s3/pom.xml"
CACHE="$ROOT/.cache"
RUN_BASE="$CACHE/run"
TIMEOUT="${S3_START_TIMEOUT:-60}"
ACCESS_KEY="${S3_ACCESS_KEY_ID:-test}"
SECRET_KEY="${S3_SECRET_ACCESS_KEY:-test}"
REGION="${S3_REGION:-us-east-1}"

case "$S3_SERVER" in
  s3proxy) VERSION="$S3PROXY_VERSION"; JAR_NAME="s3proxy-$VERSION-jar-with-dependencies.jar"; MVN_ARGS=(-Ds3proxy.version="$VERSION") ;;
  s3mock) VERSION="$S3MOCK_VERSION"; JAR_NAME="s3mock-$VERSION-exec.jar"; MVN_ARGS=(-P s3mock -Ds3mock.version="$VERSION") ;;
  *) echo "s3-local: S3_SERVER must be s3proxy or s3mock" >&2; exit 2 ;;
esac
DIST="$CACHE/$S3_SERVER-$VERSION"
JAR="$DIST/$JAR_NAME"

log() { echo "s3-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

ensure_jar() {
  [ -f "$DIST/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch $S3_SERVER $VERSION)"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.$S3_SERVER-$VERSION.lock"
  flock 9
  if [ ! -f "$DIST/.complete" ]; then
    log "fetching $S3_SERVER $VERSION from Maven Central into $DIST"
    local tmp="$DIST.tmp.$$"
    rm -rf "$tmp"
    mvn -q -B -f "$POM" "${MVN_ARGS[@]}" dependency:copy-dependencies -DoutputDirectory="$tmp" >&2 \
      || { rm -rf "$tmp"; die "mvn could not resolve $S3_SERVER $VERSION"; }
    [ -f "$tmp/$JAR_NAME" ] || { rm -rf "$tmp"; die "expected $JAR_NAME from mvn"; }
    rm -rf "$DIST"
    mv "$tmp" "$DIST"
    touch "$DIST/.complete"
  fi
  flock -u 9
  exec 9>&-
}

free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# a pid from a pid file counts only while it is still one of our servers (pids get reused)
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && grep -qaE 's3proxy|s3mock' "/proc/$1/cmdline" 2>/dev/null; }

http_status() { # port -> the status code of GET / (any answer means the server is up)
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" >&3
  IFS= read -r -t 5 line <&3 || { exec 3>&-; return 1; }
  exec 3>&-
  line="${line#HTTP/1.1 }"
  echo "${line%% *}"
}

instance_dirs() {
  if [ -n "${1:-}" ]; then
    [ -d "$RUN_BASE/s3-$1" ] && echo "$RUN_BASE/s3-$1"
  else
    ls -d "$RUN_BASE"/s3-* 2>/dev/null || true
  fi
  return 0
}

cmd_start() {
  [ $# -eq 0 ] || usage
  command -v java >/dev/null || die "java not found (Java 17+ needed)"
  local t0=$SECONDS port
  ensure_jar
  if [ -n "${S3_PORT:-}" ]; then
    port_in_use "$S3_PORT" && die "S3_PORT $S3_PORT is already in use"
    port="$S3_PORT"
  else
    port="$(free_port)"
  fi
  local dir="$RUN_BASE/s3-$port"
  rm -rf "$dir"
  mkdir -p "$dir/data"
  echo "$S3_SERVER" >"$dir/server"

  local jvm="${S3_JAVA_OPTS:--Xmx256m -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=64m -Xss512k}"
  local args=() b
  IFS=',' read -r -a buckets <<<"${S3_BUCKETS:-}"
  if [ "$S3_SERVER" = s3proxy ]; then
    # the filesystem backend keeps a bucket as a folder: creating the folders creates the buckets
    for b in "${buckets[@]}"; do [ -n "$b" ] && mkdir -p "$dir/data/$b"; done
    cat >"$dir/s3proxy.conf" <<EOF
# generated by scripts/s3-local.sh: a throw-away test server, data in $dir/data
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$ACCESS_KEY
s3proxy.credential=$SECRET_KEY
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$dir/data
jclouds.identity=$ACCESS_KEY
jclouds.credential=$SECRET_KEY
EOF
    args=(--properties "$dir/s3proxy.conf")
  else
    # S3Mock always opens an https connector too (server.port); 0 gives it a random port.
    # Both its connectors bind every interface: S3Mock has no setting for the address.
    args=(--server.port=0 --http.port="$port" --spring.main.banner-mode=off
      --com.adobe.testing.s3mock.store.root="$dir/data"
      --com.adobe.testing.s3mock.store.retain-files-on-exit=false
      --com.adobe.testing.s3mock.store.region="$REGION")
    [ -n "${S3_BUCKETS:-}" ] && args+=(--com.adobe.testing.s3mock.store.initial-buckets="$S3_BUCKETS")
  fi

  # setsid + stdio to a file: the server outlives this script and does not hold a caller's pipe open
  # shellcheck disable=SC2086
  setsid java $jvm -jar "$JAR" "${args[@]}" </dev/null >"$dir/server.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/pid"

  local deadline=$((SECONDS + TIMEOUT)) status=""
  while :; do
    # kill -0, not alive(): just after the fork the child may not have exec'd java yet
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$S3_SERVER died during start-up; last lines of $dir/server.log:"
      tail -n 30 "$dir/server.log" >&2 || true
      die "$S3_SERVER did not start"
    fi
    # S3Proxy answers an unsigned GET / with 403, S3Mock with 200 (that first call also warms up its lazy beans)
    if port_in_use "$port" && status="$(http_status "$port" 2>/dev/null)" && [ -n "$status" ]; then break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_instance "$dir" keep
      die "$S3_SERVER not ready after ${TIMEOUT}s (log kept in $dir/server.log)"
    fi
    sleep 0.1
  done
  log "$S3_SERVER $VERSION ready in $((SECONDS - t0))s (GET / -> $status; run dir $dir)"
  echo "S3_ENDPOINT=http://127.0.0.1:$port"
  echo "S3_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "S3_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "S3_REGION=$REGION"
}

stop_instance() { # dir [keep]
  local dir=$1 pid
  pid="$(cat "$dir/pid" 2>/dev/null || true)"
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    while alive "$pid"; do sleep 0.05; done
  fi
  if [ "${2:-}" != keep ]; then rm -rf "$dir"; fi
}

port_arg() {
  PORT_ARG="${S3_PORT:-}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) PORT_ARG="${2:-}"; shift 2 ;;
      --port=*) PORT_ARG="${1#*=}"; shift ;;
      *) usage ;;
    esac
  done
}

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

cmd_status() {
  port_arg "$@"
  local dir any=0
  for dir in $(instance_dirs "$PORT_ARG"); do
    if alive "$(cat "$dir/pid" 2>/dev/null || true)"; then
      any=1
      echo "running: ${dir##*/} ($(cat "$dir/server" 2>/dev/null)) S3_ENDPOINT=http://127.0.0.1:${dir##*/s3-}"
    else
      echo "not running: ${dir##*/} (stale run folder; 'stop' removes it)"
    fi
  done
  if [ "$any" -eq 0 ]; then echo "not running"; return 1; fi
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) usage ;;
esac
