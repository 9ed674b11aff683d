import { startKafka, startS3, type KafkaServer, type S3Server } from '../servers.js';

/**
 * A three-node KRaft cluster (each node controller and broker) and one S3 server for the whole
 * cluster suite, on loopback, started by the project's scripts. Always this suite's own cluster
 * (never KAFKA_BROKERS from outside): the scenarios kill and restart its nodes, by port only.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const t0 = Date.now();
  delete process.env.KAFKA_BROKERS;
  let kafka: KafkaServer | undefined;
  let s3: S3Server | undefined;
  try {
    [kafka, s3] = await Promise.all([startKafka({ brokers: 3 }), startS3()]);
  } catch (e) {
    await Promise.all([kafka?.stop(), s3?.stop()]);
    throw e;
  }
  process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  process.env.CLUSTER_KAFKA_PORT = kafka.brokers[0]!.split(':').pop()!;
  process.env.S3_ENDPOINT = s3.endpoint;
  process.env.S3_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.S3_SECRET_ACCESS_KEY = s3.secretAccessKey;
  process.env.S3_REGION = s3.region;
  process.stderr.write(
    `cluster suite servers ready in ${Date.now() - t0} ms: Kafka ${process.env.KAFKA_BROKERS}, S3 ${s3.endpoint}\n`,
  );
  return async () => {
    await Promise.all([kafka!.stop(), s3!.stop()]);
  };
}
