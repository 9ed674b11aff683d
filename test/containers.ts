/**
 * Where a Docker engine is present (a developer's laptop), the integration tests can start the
 * servers with testcontainers instead of the Maven-fetched ones: Kafka in KRaft mode and versitygw
 * (the S3 gateway of docker-compose.yml). Chosen by the global setup when
 * BN_TEST_SERVERS=testcontainers, or when it is unset and a Docker engine answers. Not run on the
 * CI machine, which has no Docker engine. Images pinned to releases, as in docker-compose.yml.
 */
import { execFileSync } from 'node:child_process';
import type { KafkaServer, S3Server } from './servers.js';

/** Whether a Docker engine answers here (the client alone is not enough). */
export function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5_000,
    });
    return true;
  } catch {
    return false;
  }
}

export const KAFKA_IMAGE = 'confluentinc/cp-kafka:7.9.0';
/** v1.8.0 or later: conditional writes (If-None-Match) atomic per key. Keep in step with docker-compose.yml. */
export const VERSITYGW_IMAGE = 'versity/versitygw:v1.8.0';

export async function startKafkaContainer(): Promise<KafkaServer> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const c = await new KafkaContainer(KAFKA_IMAGE).withKraft().start();
  return {
    brokers: [`${c.getHost()}:${c.getMappedPort(9093)}`],
    stop: async () => {
      await c.stop();
    },
    control: null,
  };
}

/**
 * versitygw (the S3 gateway docker-compose.yml uses; MinIO's images were deleted from Docker Hub)
 * on a tmpfs folder, so that each run starts empty. The tests create their own buckets.
 */
export async function startS3Container(): Promise<S3Server> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const accessKeyId = 'bottleneck-test';
  const secretAccessKey = 'bottleneck-test-secret';
  const c = await new GenericContainer(VERSITYGW_IMAGE)
    .withEnvironment({ ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey })
    .withCommand(['--port', ':7070', '--health', '/health', 'posix', '/data'])
    .withTmpFs({ '/data': 'rw' })
    .withExposedPorts(7070)
    .withWaitStrategy(Wait.forHttp('/health', 7070))
    .start();
  return {
    endpoint: `http://${c.getHost()}:${c.getMappedPort(7070)}`,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    stop: async () => {
      await c.stop();
    },
  };
}
