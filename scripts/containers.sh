#!/usr/bin/env bash
# The compose stack in containers, with podman, on a machine without a Docker engine or Docker Hub.
#
#   scripts/containers.sh up [NAME]       everything below, then `podman-compose up --no-start` of
#                                         docker-compose.yml + docker-compose.local.yml as project
#                                         NAME (default bn-<random>), and starts the containers in the
#                                         order of the compose file's depends_on conditions, each
#                                         stage once the one before is ready; prints KEY=VALUE lines
#                                         (ports, project, secrets folder)
#   scripts/containers.sh down NAME|--all remove the project's containers, network, volumes and run
#                                         folder (--all: every project started from this checkout)
#   scripts/containers.sh compose NAME ARGS...   podman-compose on the project (ps, logs SERVICE, ...)
#   scripts/containers.sh status          list the projects started from this checkout
#   scripts/containers.sh wait NAME       wait until every container of a started project is ready
#   scripts/containers.sh setup           install podman, podman-compose, runc and debootstrap with
#                                         apt-get if absent; write .cache/containers/containers.conf
#   scripts/containers.sh images          build the images (the Debian base once per machine)
#   scripts/containers.sh prepare [NAME]  setup, images, then the project's secrets and network
#                                         (what `up` does before starting anything); prints KEY=VALUE
#
# Every podman command needs CONTAINERS_CONF=.cache/containers/containers.conf (the script sets it):
# root cannot raise its limits here (default_ulimits), crun refuses the hybrid cgroup layout (runc),
# and TLS to the package registries is signed by a CA that only the host trusts (its bundle is
# mounted into every container and build).
#
# Images (podman's own store, shared by every checkout on the machine; tags carry a hash of what
# they are built from, so a checkout reuses what another built):
#   localhost/bottleneck-debian:trixie-*   `debootstrap --variant=minbase trixie` from the mirror apt
#                                          uses, imported; the root filesystem is kept in
#                                          $BOTTLENECK_CONTAINERS_CACHE (default ~/.cache/bottleneck-containers)
#                                          and made again only when absent (or with --refresh-base)
#   localhost/bottleneck-node-base:*       + Debian's nodejs and npm (deploy/containers/node-base.Containerfile)
#   localhost/bottleneck-jre-base:*        + Debian's openjdk-21-jre-headless
#   localhost/bottleneck-kafka:4.1.2-*     + Kafka's jars from Maven Central (deploy/containers/kafka/)
#   localhost/bottleneck-s3proxy:4.1.0-*   + S3Proxy's jar from Maven Central (deploy/containers/s3proxy/)
#   localhost/bottleneck-pipeline:*        deploy/Dockerfile with BASE_IMAGE=the node base (layers cached)
#
# Each project has its own containers (<NAME>_<service>_1), network (<NAME>_default), volumes, free
# host ports and secrets (.cache/containers/run/<NAME>/), so that several runs on one machine do not
# collide. Progress goes to stderr, KEY=VALUE lines to stdout.
#
# Environment:
#   BOTTLENECK_CONTAINERS_CACHE   where the Debian root filesystem is kept between runs
#   BOTTLENECK_DEBIAN_MIRROR      Debian mirror for debootstrap (default: the one in apt's sources)
#   BOTTLENECK_SENDGRID_URL       the URL the alerter mails (default: nothing listens; alerts wait)
#   BOTTLENECK_READY_TIMEOUT      safety net of the readiness wait, seconds (default 900)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
STATE="$CACHE/containers"
RUNS="$STATE/run"
MACHINE_CACHE="${BOTTLENECK_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bottleneck-containers}"
export CONTAINERS_CONF="$STATE/containers.conf"
COMPOSE_FILES=(-f "$ROOT/docker-compose.yml" -f "$ROOT/docker-compose.local.yml")
SERVICES=(ingest clean merge analytics publisher alerter console)
# The order docker-compose.yml's depends_on conditions give, which podman-compose 1.0.3 ignores (and
# podman runs no health checks without systemd): the containers are created by podman-compose, then
# started here stage by stage, each once the one before is ready. SERVICE:CONDITION, where ready is
# /readyz 200, healthy the compose file's health check (or, for S3Proxy, an HTTP answer), done an exit
# code of 0. test/compose.test.ts checks this order against the compose file.
STAGES=("kafka:healthy" "s3-events-topic:done" "s3:healthy" "s3-bucket:done"
  "ingest:ready clean:ready merge:ready analytics:ready publisher:ready alerter:ready console:ready")
KAFKA_VERSION=4.1.2
S3PROXY_VERSION=4.1.0
SUITE=trixie

# shellcheck disable=SC2034 # read by lib/local-server.sh
SERVER_NAME=containers USAGE_LINES=2,20p
# shellcheck source=lib/local-server.sh
. "$ROOT/scripts/lib/local-server.sh"

# ---------------------------------------------------------------- setup
cmd_setup() {
  local missing=() tool
  for tool in podman podman-compose runc debootstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} with apt-get"
    local sudo=""
    [ "$(id -u)" != 0 ] && sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq podman podman-compose runc debootstrap >&2
  fi
  mkdir -p "$STATE"
  local ca=/etc/ssl/certs/ca-certificates.crt volumes=""
  [ -f "$ca" ] && volumes="volumes = [\"$ca:$ca:ro\"]"
  cat >"$CONTAINERS_CONF.tmp" <<EOF
# Written by scripts/containers.sh (CONTAINERS_CONF points here).
[containers]
# root cannot raise its limits on this machine: without these, every run fails with
# "setrlimit RLIMIT_NOFILE: Operation not permitted"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
# the host's CA bundle (TLS to the package registries is signed by a CA only the host trusts),
# read-only into every container and build
$volumes

[engine]
# crun refuses the hybrid cgroup layout here
runtime = "runc"
EOF
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
}

# ---------------------------------------------------------------- images
debian_mirror() {
  if [ -n "${BOTTLENECK_DEBIAN_MIRROR:-}" ]; then echo "$BOTTLENECK_DEBIAN_MIRROR"; return; fi
  local uri
  # deb822 sources first (URIs: ...), then one-line ones (deb URI suite ...); the main archive, not security
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' |
    grep -E '^https?://' | grep -v -- '-security' | grep -E '/debian/?$' | head -n 1 || true)"
  [ -n "$uri" ] || uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' |
    grep -v -- '-security' | grep -E '/debian/?$' | head -n 1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# The Debian root filesystem, made once per machine (about a minute), kept as a tarball.
ensure_rootfs() {
  local tar="$MACHINE_CACHE/debian-$SUITE-minbase.tar"
  if [ -f "$tar" ] && [ -z "${REFRESH_BASE:-}" ]; then return 0; fi
  local mirror tmp t0=$SECONDS
  mirror="$(debian_mirror)"
  tmp="$MACHINE_CACHE/rootfs.tmp.$$"
  log "debootstrap --variant=minbase $SUITE from $mirror (once per machine)"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log: $tmp/debootstrap.log)"; }
  rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
  tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
  mv "$tmp/rootfs.tar" "$tar"
  rm -rf "$tmp"
  log "Debian $SUITE root filesystem made in $((SECONDS - t0))s: $tar"
}

hash_of() { # strings and files... -> 12 hex characters (a file counts by its content, not its path,
  # so that clones elsewhere on the machine find the same tags; folders are skipped)
  local a
  for a in "$@"; do
    if [ -f "$a" ]; then cat "$a"; elif [ ! -d "$a" ]; then printf '%s\n' "$a"; fi
  done | sha256sum | cut -c1-12
}

image_id() { podman image inspect --format '{{.Id}}' "$1"; }

build_image() { # name:tag containerfile context [podman build args...]
  local ref=$1 file=$2 ctx=$3 t0=$SECONDS
  shift 3
  if podman image exists "$ref"; then return 0; fi
  log "building $ref"
  podman build --layers -f "$file" -t "$ref" "$@" "$ctx" >"$STATE/build-${ref##*/}.log" 2>&1 ||
    { tail -n 30 "$STATE/build-${ref##*/}.log" >&2; die "could not build $ref (log: $STATE/build-${ref##*/}.log)"; }
  log "built $ref in $((SECONDS - t0))s"
}

cmd_images() {
  [ "${1:-}" = --refresh-base ] && REFRESH_BASE=1
  [ -f "$CONTAINERS_CONF" ] || cmd_setup
  mkdir -p "$MACHINE_CACHE"
  # one builder at a time per machine for the shared images; the pipeline image is built after
  exec 8>"$MACHINE_CACHE/build.lock"
  flock 8
  ensure_rootfs
  local tar="$MACHINE_CACHE/debian-$SUITE-minbase.tar" debian node jre kafka s3 ctx
  debian="localhost/bottleneck-debian:$SUITE-$(stat -c %Y "$tar")"
  if ! podman image exists "$debian"; then
    log "importing the Debian $SUITE root filesystem as $debian"
    podman import -q "$tar" "$debian" >/dev/null
  fi
  local dir="$ROOT/deploy/containers"
  node="localhost/bottleneck-node-base:$(hash_of "$(image_id "$debian")" "$dir/node-base.Containerfile")"
  build_image "$node" "$dir/node-base.Containerfile" "$dir" --build-arg DEBIAN_BASE="$debian"
  jre="localhost/bottleneck-jre-base:$(hash_of "$(image_id "$debian")" "$dir/jre-base.Containerfile")"
  build_image "$jre" "$dir/jre-base.Containerfile" "$dir" --build-arg DEBIAN_BASE="$debian"

  kafka="localhost/bottleneck-kafka:$KAFKA_VERSION-$(hash_of "$(image_id "$jre")" "$dir"/kafka/* "$dir"/kafka/bin/*)"
  if ! podman image exists "$kafka"; then
    fetch_from_maven "$CACHE/kafka-image-$KAFKA_VERSION" "Kafka $KAFKA_VERSION (image)" libs -- \
      -f "$dir/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=@TMP@/libs
    ctx="$STATE/context-kafka"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp -r "$dir/kafka/." "$ctx/" && cp -r "$CACHE/kafka-image-$KAFKA_VERSION/libs" "$ctx/libs"
    build_image "$kafka" "$ctx/Containerfile" "$ctx" --build-arg JRE_BASE="$jre"
    rm -rf "$ctx"
  fi

  s3="localhost/bottleneck-s3proxy:$S3PROXY_VERSION-$(hash_of "$(image_id "$jre")" "$dir"/s3proxy/*)"
  if ! podman image exists "$s3"; then
    local jar="s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
    fetch_from_maven "$CACHE/s3proxy-$S3PROXY_VERSION" "S3Proxy $S3PROXY_VERSION" "$jar" -- \
      -f "$ROOT/deploy/test-servers/s3/pom.xml" -Ds3proxy.version="$S3PROXY_VERSION" \
      dependency:copy-dependencies -DoutputDirectory=@TMP@
    ctx="$STATE/context-s3proxy"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp -r "$dir/s3proxy/." "$ctx/" && cp "$CACHE/s3proxy-$S3PROXY_VERSION/$jar" "$ctx/s3proxy.jar"
    build_image "$s3" "$ctx/Containerfile" "$ctx" --build-arg JRE_BASE="$jre"
    rm -rf "$ctx"
  fi
  flock -u 8
  exec 8>&-

  # The services' image: every time (podman's layer cache makes an unchanged tree quick), tagged by
  # its id, so that checkouts with other code build other images.
  local t0=$SECONDS iid="$STATE/pipeline.iid.$$" pipeline
  log "building the services' image (deploy/Dockerfile, BASE_IMAGE=$node)"
  podman build --layers -f "$ROOT/deploy/Dockerfile" --build-arg BASE_IMAGE="$node" --iidfile "$iid" "$ROOT" \
    >"$STATE/build-pipeline.log" 2>&1 ||
    { tail -n 30 "$STATE/build-pipeline.log" >&2; die "could not build deploy/Dockerfile (log: $STATE/build-pipeline.log)"; }
  local id
  id="$(sed 's/^sha256://' "$iid")"
  rm -f "$iid"
  pipeline="localhost/bottleneck-pipeline:${id:0:12}"
  podman tag "$id" "$pipeline"
  log "services' image $pipeline ready in $((SECONDS - t0))s"
  # Older services' images (a day or more) that no container uses: removed, so that a machine that
  # builds every commit does not fill up. One in use refuses, and is kept.
  local old
  for old in $(podman images --filter reference=localhost/bottleneck-pipeline --filter until=24h \
    --format '{{.Repository}}:{{.Tag}}'); do
    [ "$old" = "$pipeline" ] || podman rmi "$old" >/dev/null 2>&1 || true
  done
  IMAGES=(BOTTLENECK_KAFKA_IMAGE="$kafka" BOTTLENECK_S3_IMAGE="$s3" BOTTLENECK_PIPELINE_IMAGE="$pipeline")
  printf '%s\n' "${IMAGES[@]}"
}

# ---------------------------------------------------------------- projects
project_name() { # [NAME] -> a valid, unused project name
  local name=${1:-bn-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  [[ "$name" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || die "project name must be lower-case letters, digits, - and _: $name"
  echo "$name"
}

# podman-compose 1.0.3 reads .env of the project folder and lets it override the environment: the
# variables this script sets must not be there.
check_dotenv() {
  [ -f "$ROOT/.env" ] || return 0
  local clash
  clash="$(grep -oE '^(BOTTLENECK_[A-Z_]+|[A-Z]+_HOST_PORT)=' "$ROOT/.env" | tr -d '=' | tr '\n' ' ' || true)"
  [ -z "$clash" ] || die ".env sets ${clash}which this script sets for the run (podman-compose lets .env win): remove those lines"
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

cmd_prepare() {
  local name
  name="$(project_name "${1:-}")"
  check_dotenv
  cmd_setup
  local images
  images="$(cmd_images)"
  local dir="$RUNS/$name"
  [ -e "$dir" ] && die "project $name exists already ($dir): scripts/containers.sh down $name"
  mkdir -p "$dir/secrets"
  chmod 700 "$dir"
  # The run's own secrets, random: the S3 server's root credentials, a SendGrid-shaped key, the console token, the event signing key.
  printf 'bottleneck%s' "$(random_hex 4)" >"$dir/secrets/s3_access_key_id"
  random_hex 24 >"$dir/secrets/s3_secret_access_key"
  printf 'SG.local%s.%s' "$(random_hex 6)" "$(random_hex 16)" >"$dir/secrets/sendgrid_api_key"
  random_hex 24 >"$dir/secrets/console_token"
  random_hex 32 >"$dir/secrets/event_keys"
  chmod 644 "$dir/secrets/"* # read by the containers' users (the folder above is closed)

  # The network first, so that a stand-in on the host can listen on its gateway before the alerter starts.
  podman network create --label "io.podman.compose.project=$name" --label "com.docker.compose.project=$name" \
    "${name}_default" >/dev/null
  local gateway
  gateway="$(podman network inspect "${name}_default" --format '{{range .Subnets}}{{.Gateway}}{{end}}')"
  local ports p i=0 svc
  mapfile -t ports < <(free_ports 9)
  {
    echo "BOTTLENECK_PROJECT=$name"
    echo "$images"
    echo "BOTTLENECK_SECRETS_DIR=$dir/secrets"
    echo "BOTTLENECK_GATEWAY=$gateway"
    echo "KAFKA_HOST_PORT=${ports[0]}"
    echo "S3_HOST_PORT=${ports[1]}"
    for svc in "${SERVICES[@]}"; do
      p=${ports[$((i + 2))]}
      echo "$(echo "$svc" | tr a-z A-Z)_HOST_PORT=$p"
      i=$((i + 1))
    done
  } >"$dir/env"
  cat "$dir/env"
}

load_env() { # NAME: exports the project's variables
  local dir="$RUNS/$1"
  [ -f "$dir/env" ] || die "no project $1 here ($dir/env missing)"
  set -a
  # shellcheck disable=SC1091
  . "$dir/env"
  set +a
}

compose() { # NAME ARGS...
  local name=$1
  shift
  (cd "$ROOT" && podman-compose -p "$name" "${COMPOSE_FILES[@]}" "$@")
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

container_state() { podman inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$1" 2>/dev/null || echo "missing"; }

is_ready() { # NAME SERVICE CONDITION -> 0 ready, 1 not yet, 2 failed for good (a job exited non-zero)
  local name=$1 svc=$2 cond=$3 state var
  case "$cond" in
    healthy)
      if [ "$svc" = s3 ]; then
        # S3Proxy has no /health (the compose file's check is versitygw's): any HTTP answer is up
        [ "$(http_code "http://127.0.0.1:$S3_HOST_PORT/")" != "000" ]
      elif [ "$svc" = kafka ]; then
        # Kafka's check starts a JVM: run it once the broker has said it started, not every second
        podman logs "${name}_kafka_1" 2>&1 | grep -q 'Kafka Server started' &&
          podman healthcheck run "${name}_kafka_1" >/dev/null 2>&1
      else
        podman healthcheck run "${name}_${svc}_1" >/dev/null 2>&1
      fi ;;
    done)
      state="$(container_state "${name}_${svc}_1")"
      case "$state" in
        "exited 0 "*) return 0 ;;
        exited*) return 2 ;;
        *) return 1 ;;
      esac ;;
    ready)
      var="$(echo "$svc" | tr a-z A-Z)_HOST_PORT"
      [ "$(http_code "http://127.0.0.1:${!var}/readyz")" = 200 ] ;;
    *) die "unknown condition $cond" ;;
  esac
}

# wait_stage NAME SERVICE:CONDITION...: polls until each is ready; a job that failed stops it at once,
# with its log; BOTTLENECK_READY_TIMEOUT is a safety net against a hang, not a speed target.
wait_stage() {
  local name=$1 deadline=$((SECONDS + ${BOTTLENECK_READY_TIMEOUT:-900})) item rc
  shift
  local pending=("$@") still=()
  while [ "${#pending[@]}" -gt 0 ]; do
    still=()
    for item in "${pending[@]}"; do
      rc=0
      is_ready "$name" "${item%%:*}" "${item#*:}" || rc=$?
      if [ "$rc" -eq 2 ]; then
        podman logs "${name}_${item%%:*}_1" 2>&1 | tail -n 30 >&2
        die "${item%%:*} exited with code $(container_state "${name}_${item%%:*}_1" | cut -d' ' -f2) (its log above)"
      fi
      [ "$rc" -eq 0 ] || still+=("$item")
    done
    pending=("${still[@]+"${still[@]}"}")
    [ "${#pending[@]}" -eq 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for item in "${pending[@]}"; do
        log "not ready: ${item%%:*} ($(container_state "${name}_${item%%:*}_1")); last lines of its log:"
        podman logs "${name}_${item%%:*}_1" 2>&1 | tail -n 15 >&2 || true
      done
      die "not ready after ${BOTTLENECK_READY_TIMEOUT:-900}s: ${pending[*]%%:*}"
    fi
    sleep 1
  done
}

# Waits until every container of a started project is ready (each stage's condition).
cmd_wait() {
  local name=$1 stage t0=$SECONDS
  load_env "$name"
  for stage in "${STAGES[@]}"; do
    # shellcheck disable=SC2086 # a stage is several words
    wait_stage "$name" $stage
  done
  log "project $name ready in $((SECONDS - t0))s"
}

cmd_up() {
  local name t0=$SECONDS
  name="$(project_name "${1:-}")"
  # a project made by `prepare` (the test: its SendGrid stand-in listens on the network's gateway) is used as it is
  [ -f "$RUNS/$name/env" ] || cmd_prepare "$name" >/dev/null
  load_env "$name"
  export BOTTLENECK_SENDGRID_URL="${BOTTLENECK_SENDGRID_URL:-http://host.containers.internal:9}"
  export ALERT_TO="${ALERT_TO:-data-team@bottleneck.example}" ALERT_FROM="${ALERT_FROM:-pipeline@bottleneck.example}"
  echo "BOTTLENECK_SENDGRID_URL=$BOTTLENECK_SENDGRID_URL" >>"$RUNS/$name/env"
  log "creating project $name (podman-compose up --no-start; its output in $RUNS/$name/compose.log)"
  compose "$name" up --no-build --no-start >"$RUNS/$name/compose.log" 2>&1 ||
    { tail -n 30 "$RUNS/$name/compose.log" >&2; die "podman-compose up failed (log: $RUNS/$name/compose.log)"; }
  local stage item containers t1
  for stage in "${STAGES[@]}"; do
    t1=$SECONDS
    containers=()
    for item in $stage; do containers+=("${name}_${item%%:*}_1"); done
    podman start "${containers[@]}" >/dev/null
    # shellcheck disable=SC2086 # a stage is several words
    wait_stage "$name" $stage
    log "started and ready in $((SECONDS - t1))s: $(for item in $stage; do printf '%s ' "${item%%:*}"; done)"
  done
  log "project $name up in $((SECONDS - t0))s"
  cat "$RUNS/$name/env"
}

down_one() { # NAME
  local name=$1 dir="$RUNS/$1" ids
  # What `podman-compose down -v` does, but all containers at once (it stops them one by one) and
  # whatever carries the project's label, also after a failed or interrupted `up`.
  ids="$(podman ps -aq --filter "label=io.podman.compose.project=$name")"
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || podman rm -f -t 5 $ids >/dev/null
  ids="$(podman volume ls -q --filter "label=io.podman.compose.project=$name")"
  # shellcheck disable=SC2086 # one name per word
  [ -z "$ids" ] || podman volume rm -f $ids >/dev/null
  podman network exists "${name}_default" && podman network rm -f "${name}_default" >/dev/null
  rm -rf "$dir"
  log "removed project $name"
}

projects_here() {
  podman ps -a --filter "label=com.docker.compose.project.working_dir=$ROOT" \
    --format '{{index .Labels "io.podman.compose.project"}}' 2>/dev/null | sort -u
  ls "$RUNS" 2>/dev/null || true
}

cmd_down() {
  [ $# -eq 1 ] || usage
  [ -f "$CONTAINERS_CONF" ] || cmd_setup
  if [ "$1" = --all ]; then
    local n
    for n in $(projects_here | sort -u); do down_one "$n"; done
  else
    down_one "$(project_name "$1")"
  fi
}

cmd_status() {
  local n
  for n in $(projects_here | sort -u); do
    echo "$n"
    podman ps -a --filter "label=io.podman.compose.project=$n" --format '  {{.Names}}  {{.Status}}'
  done
}

case "${1:-}" in
  setup) shift; cmd_setup "$@" ;;
  images) shift; cmd_images "$@" ;;
  prepare) shift; cmd_prepare "$@" ;;
  up) shift; cmd_up "$@" ;;
  wait) shift; [ $# -eq 1 ] || usage; cmd_wait "$1" ;;
  down) shift; cmd_down "$@" ;;
  compose) shift; [ $# -ge 1 ] || usage; n=$1; shift; load_env "$n"; compose "$n" "$@" ;;
  status) cmd_status ;;
  *) usage ;;
esac
