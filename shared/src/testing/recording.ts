import type { Readable } from 'node:stream';
import { createError } from '../errors/index.js';
import type { PipelineEvent } from '../events/index.js';
import type { Bus } from '../ports/bus.js';
import type { Mailer, MailMessage, SendResult } from '../ports/mailer.js';
import type { GetOptions, ObjectStore, PutOptions } from '../ports/object-store.js';

/** One call through a recording adapter. Effects (writes, deletes, publishes, sends) are numbered from 1. */
export interface Call {
  port: 'store' | 'bus' | 'mailer';
  op: string;
  /** The object key, the event's `<id>` (type in `type`), or the mail's subject. */
  target: string;
  type?: string;
  /** The number of this effect (1-based), or undefined for a read. */
  effect?: number;
  /** A write's options that reach the store (S3 sends them as headers): its content type, If-None-Match. */
  opts?: Pick<PutOptions, 'contentType' | 'ifNoneMatch'>;
}

/**
 * What a process killed at an effect throws. It is not retriable, and once thrown every later
 * effect through the same log throws it too: the process is gone, nothing after the crash happens.
 */
export class Crash extends Error {
  constructor(readonly at: number) {
    super(`crashed at effect ${String(at)}`);
    this.name = 'Crash';
  }
}

/**
 * The ordered record of every call made through the recording adapters that share it, and the
 * crash to inject: with `crashAt: k` the k-th effect (and every one after) throws `Crash` before it
 * reaches the adapter, so effects 1..k-1 happened and none after.
 *
 * @example
 * const log = new CallLog({ crashAt: 3 });
 * const store = recordingStore(new FolderStore(dir), log);
 * await expect(publish(store)).rejects.toBeInstanceOf(Crash);
 * log.effects().map((c) => c.target); // the two effects that happened
 */
export class CallLog {
  readonly calls: Call[] = [];
  private count = 0;
  crashed: Crash | undefined;

  constructor(private opts: { crashAt?: number } = {}) {}

  /** A new process on the same adapters: the record is emptied, and the next crash is at `crashAt` (or none). */
  restart(crashAt?: number): void {
    this.calls.length = 0;
    this.count = 0;
    this.crashed = undefined;
    this.opts = crashAt === undefined ? {} : { crashAt };
  }

  read(port: Call['port'], op: string, target: string): void {
    if (this.crashed) throw this.crashed;
    this.calls.push({ port, op, target });
  }

  /** Records an effect about to be made, or throws the crash. */
  effect(port: Call['port'], op: string, target: string, type?: string, opts?: PutOptions): void {
    if (this.crashed) throw this.crashed;
    const n = ++this.count;
    if (this.opts.crashAt !== undefined && n >= this.opts.crashAt) {
      this.crashed = new Crash(n);
      throw this.crashed;
    }
    const o = {
      ...(opts?.contentType !== undefined ? { contentType: opts.contentType } : {}),
      ...(opts?.ifNoneMatch !== undefined ? { ifNoneMatch: opts.ifNoneMatch } : {}),
    };
    this.calls.push({
      port,
      op,
      target,
      effect: n,
      ...(type ? { type } : {}),
      ...(Object.keys(o).length ? { opts: o } : {}),
    });
  }

  /** The effects made, in order. */
  effects(): Call[] {
    return this.calls.filter((c) => c.effect !== undefined);
  }

  /** The effects made, as `op target` lines: easy to compare whole. */
  lines(filter: (c: Call) => boolean = () => true): string[] {
    return this.effects()
      .filter(filter)
      .map((c) => `${c.op} ${c.target}`);
  }
}

/** An object store that records every call in `log` before passing it to `inner`. */
export function recordingStore(inner: ObjectStore, log: CallLog): ObjectStore {
  return {
    put(key: string, body: Buffer | string, opts?: PutOptions) {
      log.effect('store', 'put', key, undefined, opts);
      return inner.put(key, body, opts);
    },
    putFile(key: string, path: string, opts?: PutOptions) {
      log.effect('store', 'put', key, undefined, opts);
      return inner.putFile(key, path, opts);
    },
    putStream(key: string, body: Readable, opts?: PutOptions) {
      try {
        log.effect('store', 'put', key, undefined, opts);
      } catch (e) {
        body.destroy();
        throw e;
      }
      return inner.putStream(key, body, opts);
    },
    delete(key: string) {
      log.effect('store', 'delete', key);
      return inner.delete(key);
    },
    get(key: string, opts?: GetOptions) {
      log.read('store', 'get', key);
      return inner.get(key, opts);
    },
    getStream(key: string, opts?: GetOptions) {
      log.read('store', 'get', key);
      return inner.getStream(key, opts);
    },
    getToFile(key: string, opts?: GetOptions) {
      log.read('store', 'get', key);
      return inner.getToFile(key, opts);
    },
    head(key: string) {
      log.read('store', 'head', key);
      return inner.head(key);
    },
    list(prefix: string) {
      log.read('store', 'list', prefix);
      return inner.list(prefix);
    },
    describe: (key: string) => inner.describe(key),
  };
}

/** A bus whose publishes are recorded (and can crash) in `log`; everything else goes to `inner`. */
export function recordingBus(inner: Bus, log: CallLog): Bus {
  return {
    publish(event: PipelineEvent) {
      log.effect('bus', 'publish', event.id, event.type);
      return inner.publish(event);
    },
    publishRaw(topic: string, value: string, key?: string) {
      log.effect('bus', 'publishRaw', topic);
      return inner.publishRaw(topic, value, key);
    },
    subscribe: (o) => inner.subscribe(o),
    subscribeRaw: (o) => inner.subscribeRaw(o),
    subscribeDeadLetters: (o) => inner.subscribeDeadLetters(o),
    close: () => inner.close(),
  };
}

/** A mailer whose sends are recorded (and can crash) in `log`. */
export function recordingMailer(inner: Mailer, log: CallLog): Mailer {
  return {
    send(msg: MailMessage): Promise<SendResult> {
      log.effect('mailer', 'send', msg.subject);
      return inner.send(msg);
    },
  };
}

/**
 * A store that answers nothing, as a frozen S3 server does (connections accepted, no reply): each
 * call for which `frozen(op, key)` holds never settles, or, with `timeoutMs`, fails retriable
 * after that long (as the S3 client's socket timeout ends a frozen request). Other calls go to
 * `inner`. Wrap it in `recordingStore` to see which calls were made.
 *
 * @example
 * const store = frozenStore(new FolderStore(dir), { frozen: (op) => op !== 'head', timeoutMs: 3_000 });
 */
export function frozenStore(
  inner: ObjectStore,
  o: { frozen?: (op: string, key: string) => boolean; timeoutMs?: number } = {},
): ObjectStore {
  const frozen = o.frozen ?? (() => true);
  const hang = <T>(op: string, key: string, pass: () => Promise<T>): Promise<T> => {
    if (!frozen(op, key)) return pass();
    const { timeoutMs } = o;
    if (timeoutMs === undefined) return new Promise<T>(() => undefined);
    return new Promise<T>((_, reject) =>
      setTimeout(
        () =>
          reject(
            createError('BN_ERR_STORE_IO', `${op} ${key} failed: TimeoutError: no answer within ${timeoutMs} ms`, {
              retriable: true,
            }),
          ),
        timeoutMs,
      ),
    );
  };
  return {
    put: (key, body, opts) => hang('put', key, () => inner.put(key, body, opts)),
    putFile: (key, path, opts) => hang('put', key, () => inner.putFile(key, path, opts)),
    putStream: (key, body, opts) => hang('put', key, () => inner.putStream(key, body, opts)),
    delete: (key) => hang('delete', key, () => inner.delete(key)),
    get: (key, opts) => hang('get', key, () => inner.get(key, opts)),
    getStream: (key, opts) => hang('get', key, () => inner.getStream(key, opts)),
    getToFile: (key, opts) => hang('get', key, () => inner.getToFile(key, opts)),
    head: (key) => hang('head', key, () => inner.head(key)),
    list: (prefix) => hang('list', prefix, () => inner.list(prefix)),
    describe: (key) => inner.describe(key),
  };
}
