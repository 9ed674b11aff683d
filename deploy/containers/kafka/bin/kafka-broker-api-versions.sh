#!/bin/sh
# kafka-broker-api-versions.sh of the local Kafka image (docker-compose.yml's Kafka health check).
exec java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
  -cp '/opt/kafka/libs/*' org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
