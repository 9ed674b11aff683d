#!/usr/bin/env node
/**
 * Creates the pipeline's bucket on an S3-compatible server unless it is already there: the
 * `s3-bucket` job of docker-compose.yml, run from the services' image before they start. (On AWS,
 * create the bucket with your infrastructure tooling instead.) Idempotent: a bucket that exists
 * and that these credentials can reach is success.
 *
 * Configuration from the environment, validated first, named as the services name it: S3_BUCKET and
 * S3_ENDPOINT (required), S3_REGION (default us-east-1), S3_FORCE_PATH_STYLE (default true),
 * S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or their _FILE variants (Docker secrets).
 *
 * Writes JSON log lines only. Exit codes: 0 the bucket is there; 78 a setting is missing or
 * invalid; 1 the server refused or could not be reached.
 */
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { readOptionalSecret } from '@bottleneck/shared/secrets';
import { routeProcessWarnings } from '@bottleneck/shared/service/warnings';

const log = pino({ base: { job: 's3-bucket' } });
routeProcessWarnings(log);

class ConfigError extends Error {}

function settings(env) {
  const bucket = env.S3_BUCKET?.trim();
  if (!bucket) throw new ConfigError('S3_BUCKET is required: the bucket to create');
  // The S3 bucket naming rules (3 to 63 lower-case letters, digits, dots and hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new ConfigError(
      `S3_BUCKET must be a valid bucket name (3-63 of a-z, 0-9, . and -), got ${JSON.stringify(bucket)}`,
    );
  const endpoint = env.S3_ENDPOINT?.trim();
  if (!endpoint) throw new ConfigError('S3_ENDPOINT is required: the URL of the S3-compatible server');
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol))
    throw new ConfigError(`S3_ENDPOINT must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  const pathStyle = (env.S3_FORCE_PATH_STYLE ?? 'true').trim().toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(pathStyle))
    throw new ConfigError(`S3_FORCE_PATH_STYLE must be true or false, got ${JSON.stringify(env.S3_FORCE_PATH_STYLE)}`);
  let accessKeyId;
  let secretAccessKey;
  try {
    accessKeyId = readOptionalSecret('S3_ACCESS_KEY_ID', env);
    secretAccessKey = readOptionalSecret('S3_SECRET_ACCESS_KEY', env);
  } catch (e) {
    throw new ConfigError(e.message);
  }
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    throw new ConfigError('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together (or their _FILE variants)');
  return {
    bucket,
    region: env.S3_REGION?.trim() || 'us-east-1',
    client: {
      endpoint: endpoint.replace(/\/+$/, ''),
      forcePathStyle: ['true', '1', 'yes'].includes(pathStyle),
      ...(accessKeyId ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    },
  };
}

/** Why a request failed, for a person: the S3 error code and HTTP status, or the network error. */
function describe(e) {
  const status = e?.$metadata?.httpStatusCode;
  // A HEAD answer has no body: the SDK can only say "Unknown"; the status says it all.
  const what = e?.name && e.name !== 'Unknown' ? `${e.name}: ${e.message}` : status ? '' : String(e?.message ?? e);
  const denied = status === 403 ? ' access denied: wrong credentials, or a bucket of another account' : '';
  return [status ? `HTTP ${status}` : '', denied.trim(), what].filter(Boolean).join(', ');
}

async function main() {
  let s;
  try {
    s = settings(process.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.fatal({ code: 'BN_ERR_CONFIG_INVALID' }, `configuration: ${e.message}`);
    return 78;
  }
  const s3 = new S3Client({ region: s.region, ...s.client });
  const where = `bucket ${s.bucket} on ${s.client.endpoint}`;
  try {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: s.bucket }));
      log.info({ bucket: s.bucket, endpoint: s.client.endpoint }, 'bucket already exists: left as it is');
      return 0;
    } catch (e) {
      if (e?.$metadata?.httpStatusCode !== 404) {
        log.error(
          { bucket: s.bucket, endpoint: s.client.endpoint },
          `cannot check ${where}: ${describe(e)}; check S3_ENDPOINT and the credentials`,
        );
        return 1;
      }
    }
    try {
      await s3.send(
        new CreateBucketCommand({
          Bucket: s.bucket,
          ...(s.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: s.region } } : {}),
        }),
      );
    } catch (e) {
      // Created meanwhile by someone with the same credentials: what was asked for is there.
      if (e?.name !== 'BucketAlreadyOwnedByYou') {
        log.error({ bucket: s.bucket, endpoint: s.client.endpoint }, `cannot create ${where}: ${describe(e)}`);
        return 1;
      }
    }
    log.info({ bucket: s.bucket, endpoint: s.client.endpoint, region: s.region }, 'bucket created');
    return 0;
  } finally {
    s3.destroy();
  }
}

process.exitCode = await main().catch((e) => {
  log.fatal({}, `unexpected failure: ${describe(e)}`);
  return 1;
});
