import type { Stage } from '../assets/keys.js';

/** The services: the six stages and the console (which runs no stage). */
export type ServiceName = Stage | 'console';

/** Who reads a variable: a service, or the command line (`bottleneck run`, `bottleneck trigger`). */
export type ConfigUser = ServiceName | 'cli';

/** One configuration variable: the README's table, the compose test and the typed configuration derive from this list. */
export interface VariableSpec {
  name: string;
  meaning: string;
  /** Default when unset; undefined: no default (required when `required`). */
  default?: string;
  required?: boolean;
  /** Never logged; may also come from a file named by `<name>_FILE` (Docker secrets). */
  secret?: boolean;
  /** Services that read it; 'all' for every one. */
  services: 'all' | readonly ServiceName[];
  /** The command line reads it too. */
  cli?: boolean;
  /** The command line's default, when it differs. */
  cliDefault?: string;
  /** `decimal`: a non-negative decimal number, kept as its text (bound to SQL as an exact decimal). */
  kind: 'string' | 'int' | 'bool' | 'list' | 'url' | 'enum' | 'decimal';
  /** For `int` and `decimal`: the smallest value allowed (inclusive) and the largest. */
  min?: number;
  max?: number;
  values?: readonly string[];
}

const ALL = 'all' as const;

const TABLE = [
  {
    name: 'KAFKA_BROKERS',
    meaning: 'Kafka bootstrap brokers, comma-separated host:port (the CLI needs it for trigger only)',
    required: true,
    services: ALL,
    cli: true,
    kind: 'list',
  },
  {
    name: 'KAFKA_CLIENT_ID',
    meaning: 'Kafka client id (default: bottleneck-<service>)',
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'KAFKA_TOPIC_PREFIX',
    meaning: 'prefix of the topic names (<prefix>.file-arrived, ...)',
    default: 'bottleneck',
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'KAFKA_TOPIC_PARTITIONS',
    meaning: 'partitions of each topic created at start (also the partitions each consumer fetches at once)',
    default: '12',
    services: ALL,
    kind: 'int',
  },
  {
    name: 'KAFKA_REPLICATION_FACTOR',
    meaning:
      'replication factor of each topic created at start: a number, or auto (3 copies with min.insync.replicas 2 on three brokers or more, one copy per broker below that)',
    default: 'auto',
    services: ALL,
    kind: 'string',
  },
  {
    name: 'BN_MONTHS_IN_FLIGHT',
    meaning:
      'months each consumer handles at once, each in a lane of its own: a slow month holds only its own later events; one more month waits for a free lane',
    default: '4',
    services: ALL,
    kind: 'int',
  },
  {
    name: 'KAFKA_SESSION_TIMEOUT_MS',
    meaning: "consumer session timeout: how soon a dead consumer's partitions move to another",
    default: '30000',
    services: ALL,
    kind: 'int',
  },
  { name: 'KAFKA_SSL', meaning: 'connect to Kafka over TLS', default: 'false', services: ALL, cli: true, kind: 'bool' },
  {
    name: 'KAFKA_SASL_MECHANISM',
    meaning: 'SASL mechanism (plain, scram-sha-256, scram-sha-512); unset: no SASL',
    services: ALL,
    cli: true,
    kind: 'enum',
    values: ['plain', 'scram-sha-256', 'scram-sha-512'],
  },
  { name: 'KAFKA_SASL_USERNAME', meaning: 'SASL user name', services: ALL, cli: true, kind: 'string' },
  {
    name: 'KAFKA_SASL_PASSWORD',
    meaning: 'SASL password (or KAFKA_SASL_PASSWORD_FILE)',
    secret: true,
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'S3_BUCKET',
    meaning:
      'bucket holding incoming/, staging/, extracts/, dead-letter/ (the CLI needs it for reexecute against the services only)',
    required: true,
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'S3_PREFIX',
    meaning: 'key prefix inside the bucket (empty: the bucket root)',
    default: '',
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'S3_ENDPOINT',
    meaning: 'S3 endpoint URL for S3-compatible servers (versitygw, S3Proxy); unset: AWS',
    services: ALL,
    cli: true,
    kind: 'url',
  },
  { name: 'S3_REGION', meaning: 'S3 region', default: 'eu-west-3', services: ALL, cli: true, kind: 'string' },
  {
    name: 'S3_FORCE_PATH_STYLE',
    meaning: 'path-style addressing (versitygw, S3Proxy)',
    default: 'false',
    services: ALL,
    cli: true,
    kind: 'bool',
  },
  {
    name: 'S3_ACCESS_KEY_ID',
    meaning: 'explicit access key for S3-compatible servers; unset: the standard AWS credential chain',
    secret: true,
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'S3_SECRET_ACCESS_KEY',
    meaning: 'explicit secret key (or S3_SECRET_ACCESS_KEY_FILE)',
    secret: true,
    services: ALL,
    cli: true,
    kind: 'string',
  },
  {
    name: 'HTTP_HOST',
    meaning: 'address the HTTP server listens on',
    default: '0.0.0.0',
    services: ALL,
    kind: 'string',
  },
  {
    name: 'HTTP_PORT',
    meaning: 'port of /healthz, /readyz, /metrics, /status',
    default: '8080',
    services: ALL,
    kind: 'int',
  },
  {
    name: 'BN_EVENT_KEYS',
    meaning:
      'event signing keys, comma-separated, each at least 16 characters (or BN_EVENT_KEYS_FILE): the first signs every event, all verify, so keys rotate without downtime; unset: events neither signed nor checked (one WARN at start, local use only)',
    secret: true,
    services: ALL,
    cli: true,
    kind: 'list',
  },
  {
    name: 'BN_STATUS_TOKEN',
    meaning: 'bearer token required by /status and /metrics (unset: open)',
    secret: true,
    services: ALL,
    kind: 'string',
  },
  {
    name: 'LOG_LEVEL',
    meaning: 'log level (debug, info, warn, error)',
    default: 'info',
    services: ALL,
    kind: 'enum',
    values: ['debug', 'info', 'warn', 'error'],
  },
  {
    name: 'BN_RETRY_BUDGET_MS',
    meaning:
      "how long transient errors (S3, Kafka unreachable) are retried before a run fails, ms; a handler gives up within it plus one S3 request timeout (a tenth of it, 1 s to 60 s, also the S3 client's socket timeout)",
    default: '600000',
    services: ALL,
    kind: 'int',
  },
  {
    name: 'BN_PROFILE',
    meaning: "print each phase's start, duration and CPU time to stderr at exit (diagnostics)",
    default: 'false',
    services: ALL,
    cli: true,
    kind: 'bool',
  },
  { name: 'BN_WORK_DIR', meaning: 'scratch folder for local copies of objects', services: ALL, kind: 'string' },
  {
    name: 'BN_MAX_FILE_BYTES',
    meaning: 'largest input file accepted, bytes',
    default: '209715200',
    services: ['ingest', 'clean', 'analytics'],
    cli: true,
    kind: 'int',
  },
  {
    name: 'BN_MAX_UNCOMPRESSED_BYTES',
    meaning: 'largest total expanded size of an xlsx, bytes',
    default: '2147483648',
    services: ['ingest', 'clean', 'analytics'],
    cli: true,
    kind: 'int',
  },
  {
    name: 'BN_MAX_ROWS',
    meaning: 'most data rows in one sheet',
    default: '2000000',
    services: ['ingest', 'clean', 'analytics'],
    cli: true,
    kind: 'int',
  },
  {
    name: 'BN_MAX_READ_MS',
    meaning:
      "most CPU time reading one workbook may take, ms: the reading thread's CPU time (Linux), so a process starved of CPU on a loaded machine does not fail a valid file; wall time where it cannot be read",
    default: '120000',
    services: ['ingest', 'clean', 'analytics'],
    cli: true,
    kind: 'int',
  },
  {
    name: 'BN_EXCEL_WORKERS',
    meaning:
      'worker threads for Excel work (each workbook capped in memory and time); one month holds at most all but one of them, so a month slow to parse leaves one to the others',
    default: '2',
    services: ['clean', 'analytics'],
    cli: true,
    cliDefault: '0',
    kind: 'int',
  },
  {
    name: 'BN_POLL_INTERVAL_MS',
    meaning: 'ListObjectsV2 polling of incoming/ (fallback for stores without notifications); 0: off',
    default: '30000',
    services: ['ingest'],
    kind: 'int',
  },
  {
    name: 'BN_SETTLE_MS',
    meaning:
      "a month's files must be unchanged this long before a run takes them (files dropped together give one run), ms",
    default: '5000',
    services: ['ingest'],
    kind: 'int',
  },
  {
    name: 'S3_EVENTS_TOPIC',
    meaning: 'Kafka topic where the store publishes S3 event notifications (Records[])',
    default: 'bottleneck.s3-events',
    services: ['ingest'],
    kind: 'string',
  },
  {
    name: 'BN_FILES_DUE_DAY',
    meaning:
      "day of the following month by which a month's three files are due (5: November's by 5 December, Paris time); past it, a month with a file missing and nothing published is late: a status in the console, bn_months_late, one alert per month, and the schedule records it as late instead of running it; unset: no lateness",
    services: ['console', 'alerter', 'publisher'],
    cli: true,
    kind: 'int',
    min: 1,
    max: 28,
  },
  {
    name: 'BN_SCHEDULE_CRON',
    meaning: 'monthly trigger (cron)',
    default: '0 9 15 * *',
    services: ['publisher'],
    kind: 'string',
  },
  {
    name: 'BN_SCHEDULE_TZ',
    meaning: 'time zone of the schedule',
    default: 'Europe/Paris',
    services: ['publisher'],
    kind: 'string',
  },
  {
    name: 'BN_MOM_REVENUE_CHANGE_PCT',
    meaning:
      'month over month (WARN): total revenue may change by at most this many percent against the last published month before it',
    default: '30',
    services: ['merge'],
    cli: true,
    kind: 'decimal',
  },
  {
    name: 'BN_MOM_PRODUCT_COUNT_CHANGE_PCT',
    meaning: 'month over month (WARN): the number of products may change by at most this many percent',
    default: '20',
    services: ['merge'],
    cli: true,
    kind: 'decimal',
  },
  {
    name: 'BN_MOM_PRICE_RATIO',
    meaning:
      "month over month (WARN): a product's price may be at most this many times its previous price, or the previous price at most this many times it (above 1)",
    default: '2',
    services: ['merge'],
    cli: true,
    kind: 'decimal',
    min: 1.0001,
  },
  {
    name: 'BN_MOM_PRODUCTS_CHURN_PCT',
    meaning:
      "month over month (WARN): products that appeared plus products that disappeared may be at most this percent of the previous month's products",
    default: '10',
    services: ['merge'],
    cli: true,
    kind: 'decimal',
  },
  {
    name: 'SENDGRID_API_KEY',
    meaning: 'SendGrid API key (or SENDGRID_API_KEY_FILE, a Docker secret)',
    required: true,
    secret: true,
    services: ['alerter'],
    kind: 'string',
  },
  {
    name: 'SENDGRID_API_URL',
    meaning: 'SendGrid API base URL',
    default: 'https://api.sendgrid.com',
    services: ['alerter'],
    kind: 'url',
  },
  {
    name: 'ALERT_TO',
    meaning: 'alert recipients, comma-separated',
    required: true,
    services: ['alerter'],
    kind: 'list',
  },
  { name: 'ALERT_FROM', meaning: 'alert sender address', required: true, services: ['alerter'], kind: 'string' },
  {
    name: 'BN_ALERT_RETRY_MS',
    meaning: 'how long an alert that cannot be sent is retried (it waits in state/alerts/), ms',
    default: '86400000',
    services: ['alerter'],
    kind: 'int',
  },
  {
    name: 'BN_ALERT_GROUP_MS',
    meaning:
      "refused events (unsigned, wrongly signed, invalid) are mailed in groups, one mail per kind and hour: how long the hour's first one waits for others before its mail is sent, ms",
    default: '60000',
    services: ['alerter'],
    kind: 'int',
  },
  {
    name: 'BN_PIPELINE_NAME',
    meaning: 'name in alert subjects',
    default: 'BottleNeck pipeline',
    services: ['alerter'],
    kind: 'string',
  },
  {
    name: 'BN_CONSOLE_TOKEN',
    meaning:
      "bearer token every console API call needs (or BN_CONSOLE_TOKEN_FILE); the CLI's `ui` asks for it only when set",
    required: true,
    secret: true,
    services: ['console'],
    cli: true,
    kind: 'string',
  },
  {
    name: 'BN_CONSOLE_HOSTS',
    meaning:
      'host names the console answers to besides localhost and 127.0.0.1 (Host and Origin checked, against DNS rebinding and cross-site requests), comma-separated',
    services: ['console'],
    cli: true,
    kind: 'list',
  },
  {
    name: 'BN_CONSOLE_URL',
    meaning:
      "the console's address as people reach it (https://console.example): alert mails and the CLI's failure output then link to the failed run, <url>/#/runs/<run-id>",
    services: ['alerter', 'console'],
    cli: true,
    kind: 'url',
  },
  {
    name: 'BN_CONSOLE_REFRESH_MS',
    meaning: 'how often the console rebuilds its catalog from the store at most (the page polls with ETags), ms',
    default: '2000',
    services: ['console'],
    cli: true,
    kind: 'int',
  },
] as const satisfies readonly VariableSpec[];

/** Every variable the six services and the command line read. Unknown `BN_*` variables are refused at start (typos). */
export const VARIABLES: readonly VariableSpec[] = TABLE;

/** The README's configuration table, one row per variable (written by `npm run docs`, kept equal by a test). */
export function variablesTable(): string {
  const rows = VARIABLES.map((v) => {
    const dflt = v.required
      ? '**required**'
      : v.default === undefined
        ? 'unset'
        : v.default === ''
          ? 'empty'
          : `\`${v.default}\``;
    const users = [v.services === 'all' ? 'all' : v.services.join(', '), ...(v.cli ? ['cli'] : [])].join(', ');
    return `| \`${v.name}\` | ${users} | ${v.meaning}${v.secret ? ' (secret)' : ''} | ${dflt} |`;
  });
  return ['| variable | used by | meaning | default |', '| --- | --- | --- | --- |', ...rows].join('\n') + '\n';
}

/** Whether `user` reads variable `v`. */
export function readBy(v: VariableSpec, user: ConfigUser): boolean {
  return user === 'cli' ? v.cli === true : v.services === 'all' || v.services.includes(user);
}

/** The variables a service (or the CLI) reads. */
export function variablesOf(user: ConfigUser): VariableSpec[] {
  return VARIABLES.filter((v) => readBy(v, user));
}

type Var = (typeof TABLE)[number];
type UsersOf<V extends Var> =
  | (V['services'] extends 'all' ? ServiceName : V['services'] extends readonly (infer S)[] ? S : never)
  | (V extends { cli: true } ? 'cli' : never);
type Parsed<V extends Var> = V['kind'] extends 'int'
  ? number
  : V['kind'] extends 'bool'
    ? boolean
    : V['kind'] extends 'list'
      ? string[]
      : V extends { values: readonly (infer E)[] }
        ? E
        : string;
/** Required settings are required of the services; the CLI asks for them only where a command needs them. */
type Value<V extends Var, U extends ConfigUser> = V extends { default: string }
  ? Parsed<V>
  : V extends { required: true }
    ? [U] extends ['cli']
      ? Parsed<V> | undefined
      : Parsed<V>
    : Parsed<V> | undefined;

/**
 * The configuration of one user, typed from the table: `loadConfig('merge', env).HTTP_PORT` is a
 * number, `.KAFKA_BROKERS` a string array, and a variable the service does not read is not there.
 */
export type ConfigFor<U extends ConfigUser> = {
  readonly [V in Var as [U] extends [UsersOf<V>] ? V['name'] : never]: Value<V, U>;
};
