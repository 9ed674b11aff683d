/**
 * The registry of error codes. Every error the pipeline raises carries one of these codes;
 * `docs/errors.md` lists the same codes (a test keeps the two lists equal).
 *
 * `retriable` belongs to the code: a call site cannot flip it. The few codes marked `classified`
 * cover failures whose retriability only the adapter that met them can tell (an S3 503 and an
 * S3 403 are both BN_ERR_STORE_IO): there, and only there, the adapter's classification decides,
 * and `retriable` is the default.
 */
export const ERROR_CODES = {
  BN_ERR_INPUT_MISSING: { retriable: false, summary: 'An expected input file is not there.' },
  BN_ERR_INPUT_TOO_LARGE: { retriable: false, summary: 'An input file exceeds the size, row, cell or time budget.' },
  BN_ERR_INPUT_NOT_XLSX: { retriable: false, summary: 'An input file is not an xlsx workbook (wrong signature).' },
  BN_ERR_INPUT_CORRUPT: { retriable: false, summary: 'An xlsx workbook is truncated or corrupt and cannot be read.' },
  BN_ERR_INPUT_SHEET_MISSING: { retriable: false, summary: 'The required sheet is not in the workbook.' },
  BN_ERR_INPUT_EMPTY: {
    retriable: false,
    summary: 'The file is 0 bytes, or the sheet has no header row or no data rows.',
  },
  BN_ERR_INPUT_COLUMN_MISSING: { retriable: false, summary: 'A required column is missing from the header row.' },
  BN_ERR_INPUT_BAD_VALUE: {
    retriable: false,
    summary: 'A cell holds a value of the wrong type (text in a numeric column...).',
  },
  BN_ERR_CHECK_FAILED: {
    retriable: false,
    summary: 'A blocking asset check failed; downstream assets were not materialized.',
  },
  BN_ERR_EXPECTATION_FAILED: {
    retriable: false,
    summary: 'A figure differs from the expectations file given with --expect.',
  },
  BN_ERR_ASSET_FAILED: {
    retriable: false,
    classified: true,
    summary: 'An asset computation failed unexpectedly (wraps the cause).',
  },
  BN_ERR_EVENT_INVALID: { retriable: false, summary: 'An event does not match its schema.' },
  BN_ERR_EVENT_UNSIGNED: {
    retriable: false,
    summary: 'An event carries no signature while BN_EVENT_KEYS is set: refused and dead-lettered.',
  },
  BN_ERR_EVENT_SIGNATURE: {
    retriable: false,
    summary: 'An event signature was not made by any key of BN_EVENT_KEYS: refused and dead-lettered.',
  },
  BN_ERR_KEY_INVALID: { retriable: false, summary: 'An object key is unsafe (.., absolute, NUL or too long).' },
  BN_ERR_STORE_IO: { retriable: true, classified: true, summary: 'Reading or writing the object store failed.' },
  BN_ERR_STORE_NOT_FOUND: { retriable: false, summary: 'An object is not in the store.' },
  BN_ERR_MAIL_SEND: { retriable: true, classified: true, summary: 'Sending an alert email failed.' },
  BN_ERR_PUBLISH_LOCKED: {
    retriable: true,
    summary: 'Another run of the same month is publishing; this one waits and tries again.',
  },
  BN_ERR_RUN_SUPERSEDED: {
    retriable: false,
    summary: 'A newer run of the month has (or will have) its files: this run is not published.',
  },
  BN_ERR_CONFIG_INVALID: { retriable: false, summary: 'A configuration setting is missing or invalid.' },
  BN_ERR_USAGE: { retriable: false, summary: 'The command line is not valid.' },
  BN_ERR_BUS_CONNECT: {
    retriable: true,
    classified: true,
    summary: 'The Kafka brokers could not be reached, or refused the client (TLS, SASL).',
  },
  BN_ERR_BUS_TOPICS: {
    retriable: false,
    classified: true,
    summary: 'Creating or checking the bus topics failed (replication factor, partitions, authorization).',
  },
  BN_ERR_BUS_PUBLISH: {
    retriable: true,
    classified: true,
    summary: "Producing a message to Kafka failed after the client's retries.",
  },
  BN_ERR_BUS_CLOSED: { retriable: false, summary: 'The bus was used after close().' },
  BN_ERR_RETRIES_EXHAUSTED: { retriable: false, summary: 'A retriable operation still failed after all its retries.' },
  BN_ERR_INFRA_UNAVAILABLE: {
    retriable: true,
    summary: 'The store or the bus stayed unreachable for longer than the retry budget; the run can be resumed.',
  },
} as const satisfies Record<string, { retriable: boolean; classified?: true; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes whose retriability the adapter that met the failure classifies (see ERROR_CODES). */
export type ClassifiedCode = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C] extends { classified: true } ? C : never;
}[ErrorCode];

/** Whether `code` lets the thrower classify retriability (a type guard for `ClassifiedCode`). */
export function isClassifiedCode(code: ErrorCode): code is ClassifiedCode {
  return 'classified' in ERROR_CODES[code];
}

/** Whether a string is a code of the registry (a code read from an event or a record). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}
