#!/bin/sh
# Entry point of the local Kafka image: writes server.properties from the KAFKA_* variables the way
# apache/kafka's image does (KAFKA_ removed, lower case, ___ -> '-', __ -> '_', _ -> '.'), formats
# the log folder once (KRaft; an already formatted folder is kept, so data survives a restart) and
# runs the broker in the foreground, logging to stdout.
#   CLUSTER_ID       the KRaft cluster id to format with (default: a random one, on the first start)
#   KAFKA_HEAP_OPTS  JVM heap flags (default -Xmx512m -Xms256m)
set -eu
conf=/opt/kafka/config/run/server.properties
: >"$conf"
env | grep '^KAFKA_' | while IFS= read -r line; do
  name=${line%%=*}
  value=${line#*=}
  case "$name" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS) continue ;;
  esac
  key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "$value" >>"$conf"
done
grep -q '^log\.dirs=' "$conf" || echo 'log.dirs=/var/lib/kafka/data' >>"$conf"
log_dirs=$(sed -n 's/^log\.dirs=//p' "$conf")

cp=/opt/kafka/libs/'*'
if [ ! -f "${log_dirs%%,*}/meta.properties" ]; then
  id=${CLUSTER_ID:-$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')}
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
    -cp "$cp" kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$conf"
fi
# shellcheck disable=SC2086 # the heap flags are several words
exec java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
  -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp "$cp" kafka.Kafka "$conf"
