import { startKafka, startS3, type KafkaServer, type S3Server } from '../servers.js';
import { dockerAvailable, startKafkaContainer, startS3Container } from '../containers.js';

/**
 * Starts the real servers the integration tests need (Kafka in KRaft mode and an S3-compatible
 * server, from Maven Central, on loopback) unless KAFKA_BROKERS / S3_ENDPOINT name running ones,
 * and hands their addresses to the tests through the environment.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const t0 = Date.now();
  let kafka: KafkaServer | undefined;
  let s3: S3Server | undefined;
  try {
    // BN_TEST_SERVERS=maven|testcontainers; unset: testcontainers where a Docker engine answers.
    const mode = process.env.BN_TEST_SERVERS ?? (dockerAvailable() ? 'testcontainers' : 'maven');
    const containers = mode === 'testcontainers';
    [kafka, s3] = await Promise.all([
      containers && !process.env.KAFKA_BROKERS ? startKafkaContainer() : startKafka(),
      containers && !process.env.S3_ENDPOINT ? startS3Container() : startS3(),
    ]);
  } catch (e) {
    await Promise.all([kafka?.stop(), s3?.stop()]);
    throw e;
  }
  process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  process.env.S3_ENDPOINT = s3.endpoint;
  process.env.S3_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.S3_SECRET_ACCESS_KEY = s3.secretAccessKey;
  process.env.S3_REGION = s3.region;
  process.stderr.write(
    `integration servers ready in ${Date.now() - t0} ms: Kafka ${process.env.KAFKA_BROKERS}, S3 ${s3.endpoint}\n`,
  );
  return async () => {
    await Promise.all([kafka.stop(), s3.stop()]);
  };
}
