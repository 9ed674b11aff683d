/**
 * Where a Docker engine is present (a developer's laptop), the integration tests can start the
 * same servers with testcontainers instead of the Maven-fetched ones: Kafka in KRaft mode and
 * MinIO. Chosen by the global setup when BN_TEST_SERVERS=testcontainers, or when it is unset and
 * a Docker engine answers. Not run on the CI machine, which has no Docker engine.
 */
import { execFileSync } from 'node:child_process';
import type { KafkaServer, S3Server } from './servers.js';

/** Whether a Docker engine answers here (the client alone is not enough). */
export function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export async function startKafkaContainer(): Promise<KafkaServer> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const c = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
  return { brokers: [`${c.getHost()}:${c.getMappedPort(9093)}`], stop: async () => { await c.stop(); } };
}

export async function startMinioContainer(): Promise<S3Server> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const user = 'bottleneck-test';
  const password = 'bottleneck-test-password';
  const c = await new GenericContainer('minio/minio:latest')
    .withCommand(['server', '/data'])
    .withEnvironment({ MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password })
    .withExposedPorts(9000)
    .withWaitStrategy(Wait.forHttp('/minio/health/ready', 9000))
    .start();
  return {
    endpoint: `http://${c.getHost()}:${c.getMappedPort(9000)}`, accessKeyId: user, secretAccessKey: password, region: 'us-east-1',
    stop: async () => { await c.stop(); },
  };
}
