/**
 * @bottleneck/shared: what every stage and service imports. Only light modules are exported here;
 * heavy ones (DuckDB, exceljs, Kafka, S3, SendGrid adapters) are imported by path where needed so
 * that the embedded path never loads what it does not use.
 */
export * from './errors/index.js';
export * from './retry/index.js';
export * from './events/index.js';
export * from './assets/keys.js';
export * from './keys.js';
export * from './sources.js';
export * from './uploads.js';
export * from './ports/bus.js';
export * from './ports/object-store.js';
export * from './ports/mailer.js';
export * from './text/sanitize.js';
export * from './text/redact.js';
