import type { Stage } from '../assets/graph.js';

/** One configuration variable of the services: the README's table and docker-compose's test derive from this list. */
export interface VariableSpec {
  name: string;
  meaning: string;
  /** Default when unset; undefined: no default (required when `required`). */
  default?: string;
  required?: boolean;
  /** Never logged; may also come from a file named by `<name>_FILE` (Docker secrets). */
  secret?: boolean;
  /** Services that read it; 'all' for every one. */
  services: 'all' | readonly Stage[];
  kind: 'string' | 'int' | 'bool' | 'list' | 'url' | 'enum';
  values?: readonly string[];
}

const ALL = 'all' as const;

/** Every variable the six services read. Unknown `BN_*` variables are refused at start (typos). */
export const VARIABLES: readonly VariableSpec[] = [
  { name: 'KAFKA_BROKERS', meaning: 'Kafka bootstrap brokers, comma-separated host:port', required: true, services: ALL, kind: 'list' },
  { name: 'KAFKA_CLIENT_ID', meaning: 'Kafka client id (default: bottleneck-<service>)', services: ALL, kind: 'string' },
  { name: 'KAFKA_TOPIC_PREFIX', meaning: 'prefix of the topic names (<prefix>.file-arrived, ...)', default: 'bottleneck', services: ALL, kind: 'string' },
  { name: 'KAFKA_TOPIC_PARTITIONS', meaning: 'partitions of each topic created at start', default: '3', services: ALL, kind: 'int' },
  { name: 'KAFKA_REPLICATION_FACTOR', meaning: 'replication factor of each topic created at start', default: '1', services: ALL, kind: 'int' },
  { name: 'KAFKA_SESSION_TIMEOUT_MS', meaning: 'consumer session timeout: how soon a dead consumer\'s partitions move to another', default: '30000', services: ALL, kind: 'int' },
  { name: 'KAFKA_SSL', meaning: 'connect to Kafka over TLS', default: 'false', services: ALL, kind: 'bool' },
  { name: 'KAFKA_SASL_MECHANISM', meaning: 'SASL mechanism (plain, scram-sha-256, scram-sha-512); unset: no SASL', services: ALL, kind: 'enum', values: ['plain', 'scram-sha-256', 'scram-sha-512'] },
  { name: 'KAFKA_SASL_USERNAME', meaning: 'SASL user name', services: ALL, kind: 'string' },
  { name: 'KAFKA_SASL_PASSWORD', meaning: 'SASL password (or KAFKA_SASL_PASSWORD_FILE)', secret: true, services: ALL, kind: 'string' },
  { name: 'S3_BUCKET', meaning: 'bucket holding incoming/, staging/, extracts/, dead-letter/', required: true, services: ALL, kind: 'string' },
  { name: 'S3_PREFIX', meaning: 'key prefix inside the bucket (empty: the bucket root)', default: '', services: ALL, kind: 'string' },
  { name: 'S3_ENDPOINT', meaning: 'S3 endpoint URL for S3-compatible servers (MinIO); unset: AWS', services: ALL, kind: 'url' },
  { name: 'S3_REGION', meaning: 'S3 region', default: 'eu-west-3', services: ALL, kind: 'string' },
  { name: 'S3_FORCE_PATH_STYLE', meaning: 'path-style addressing (MinIO, S3Proxy)', default: 'false', services: ALL, kind: 'bool' },
  { name: 'S3_ACCESS_KEY_ID', meaning: 'explicit access key for S3-compatible servers; unset: the standard AWS credential chain', secret: true, services: ALL, kind: 'string' },
  { name: 'S3_SECRET_ACCESS_KEY', meaning: 'explicit secret key (or S3_SECRET_ACCESS_KEY_FILE)', secret: true, services: ALL, kind: 'string' },
  { name: 'HTTP_HOST', meaning: 'address the HTTP server listens on', default: '0.0.0.0', services: ALL, kind: 'string' },
  { name: 'HTTP_PORT', meaning: 'port of /healthz, /readyz, /metrics, /status', default: '8080', services: ALL, kind: 'int' },
  { name: 'BN_STATUS_TOKEN', meaning: 'bearer token required by /status and /metrics (unset: open)', secret: true, services: ALL, kind: 'string' },
  { name: 'LOG_LEVEL', meaning: 'log level (debug, info, warn, error)', default: 'info', services: ALL, kind: 'enum', values: ['debug', 'info', 'warn', 'error'] },
  { name: 'BN_PROFILE', meaning: 'print each phase\'s start and duration to stderr at exit (diagnostics)', default: 'false', services: ALL, kind: 'bool' },
  { name: 'BN_WORK_DIR', meaning: 'scratch folder for local copies of objects', services: ALL, kind: 'string' },
  { name: 'BN_MAX_FILE_BYTES', meaning: 'largest input file accepted, bytes', default: '209715200', services: ['ingest', 'clean'], kind: 'int' },
  { name: 'BN_MAX_UNCOMPRESSED_BYTES', meaning: 'largest total expanded size of an xlsx, bytes', default: '2147483648', services: ['ingest', 'clean'], kind: 'int' },
  { name: 'BN_MAX_ROWS', meaning: 'most data rows in one sheet', default: '2000000', services: ['clean'], kind: 'int' },
  { name: 'BN_MAX_READ_MS', meaning: 'longest time reading one workbook may take, ms', default: '120000', services: ['ingest', 'clean'], kind: 'int' },
  { name: 'BN_EXCEL_WORKERS', meaning: 'worker threads for Excel work (each workbook capped in memory and time)', default: '1', services: ['clean', 'analytics'], kind: 'int' },
  { name: 'BN_POLL_INTERVAL_MS', meaning: 'ListObjectsV2 polling of incoming/ (fallback for stores without notifications); 0: off', default: '30000', services: ['ingest'], kind: 'int' },
  { name: 'S3_EVENTS_TOPIC', meaning: 'Kafka topic where the store publishes S3 event notifications (Records[])', default: 'bottleneck.s3-events', services: ['ingest'], kind: 'string' },
  { name: 'BN_SCHEDULE_CRON', meaning: 'monthly trigger (cron)', default: '0 9 15 * *', services: ['publisher'], kind: 'string' },
  { name: 'BN_SCHEDULE_TZ', meaning: 'time zone of the schedule', default: 'Europe/Paris', services: ['publisher'], kind: 'string' },
  { name: 'SENDGRID_API_KEY', meaning: 'SendGrid API key (or SENDGRID_API_KEY_FILE, a Docker secret)', required: true, secret: true, services: ['alerter'], kind: 'string' },
  { name: 'SENDGRID_API_URL', meaning: 'SendGrid API base URL', default: 'https://api.sendgrid.com', services: ['alerter'], kind: 'url' },
  { name: 'ALERT_TO', meaning: 'alert recipients, comma-separated', required: true, services: ['alerter'], kind: 'list' },
  { name: 'ALERT_FROM', meaning: 'alert sender address', required: true, services: ['alerter'], kind: 'string' },
  { name: 'BN_PIPELINE_NAME', meaning: 'name in alert subjects', default: 'BottleNeck pipeline', services: ['alerter'], kind: 'string' },
];

export function variablesOf(stage: Stage): VariableSpec[] {
  return VARIABLES.filter((v) => v.services === 'all' || v.services.includes(stage));
}
