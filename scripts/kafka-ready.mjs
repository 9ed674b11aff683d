// Readiness probe used by scripts/kafka-local.sh once every node has logged "Kafka Server started":
//   node scripts/kafka-ready.mjs <brokers-csv> <expected-broker-count> <timeout-seconds>
// Waits until a kafkajs client sees all brokers in the metadata and the group coordinator answers
// (which makes the broker create __consumer_offsets now rather than in the first test).
import { Kafka, logLevel } from 'kafkajs';

const [brokersCsv, expectedArg = '1', timeoutArg = '60'] = process.argv.slice(2);
if (!brokersCsv) {
  console.error('usage: kafka-ready.mjs <brokers-csv> <expected-broker-count> <timeout-seconds>');
  process.exit(2);
}
const expected = Number(expectedArg);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const kafka = new Kafka({
  clientId: 'kafka-local-probe',
  brokers: brokersCsv.split(','),
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
});
const admin = kafka.admin();
let lastError = 'no attempt';
try {
  for (;;) {
    if (Date.now() > deadline) throw new Error(`cluster not ready in time: ${lastError}`);
    try {
      await admin.connect();
      const { brokers } = await admin.describeCluster();
      if (brokers.length < expected) {
        lastError = `${brokers.length}/${expected} brokers registered`;
      } else {
        await admin.describeGroups(['kafka-local-probe']);
        break;
      }
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
} catch (err) {
  console.error(`kafka-ready: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await admin.disconnect().catch(() => {});
}
