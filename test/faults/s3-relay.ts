/**
 * A relay in front of the S3 test server, for the fault suite: the services talk to it as their
 * S3 endpoint, and it passes every request through, unless a rule says to delay it, answer it 503
 * (S3's SlowDown / ServiceUnavailable) or hold it until told. Rules match the method and the object
 * key (path-style addressing: /<bucket>/<key>), and the suite adds and removes them as it goes.
 *
 * SigV4 signs the Host header: the relay forwards the request with its headers as they are (Host
 * included), so the signature the server checks is the one the client made.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';

export interface RelayRule {
  /** HTTP method to match (GET, PUT, HEAD, POST, DELETE); any when unset. */
  method?: string;
  /** Matches the object key (the path after /<bucket>/, decoded, without the query string); any when unset. */
  key?: RegExp;
  /** Only requests to this bucket; any when unset. */
  bucket?: string;
  /** What to do: delay then pass, answer 503, or hold (before forwarding, or after it: the server has done the work, the client waits). */
  action: { delayMs: number } | { fail: 503 | 500 } | { hold: 'before' | 'after' };
  /** Apply to this many matching requests, then the rule is spent; every one when unset. */
  times?: number;
}

export interface RuleHandle {
  /** Matching requests so far. */
  hits(): number;
  /** Removes the rule and lets go of the requests it holds. */
  release(): void;
  /** Removes the rule and drops the requests it holds (connection reset, nothing forwarded): for a client that was killed meanwhile. */
  drop(): void;
}

export interface S3Relay {
  /** e.g. http://127.0.0.1:41236 */
  endpoint: string;
  add(rule: RelayRule): RuleHandle;
  /** Removes every rule and lets go of every held request. */
  clear(): void;
  /** Requests seen, by method (to tell that something did go through). */
  seen(): number;
  close(): Promise<void>;
}

interface Live {
  rule: RelayRule;
  hits: number;
  waiting: (() => void)[];
  /** The responses of the held requests, to drop them. */
  held: ServerResponse[];
  released: boolean;
}

function describeRequest(req: IncomingMessage): { bucket: string; key: string } {
  const url = new URL(req.url ?? '/', 'http://relay');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(rest.join('/')) };
}

/** Starts the relay on a free loopback port, in front of `target` (the S3 server's endpoint). */
export async function startS3Relay(target: string): Promise<S3Relay> {
  const upstream = new URL(target);
  const rules: Live[] = [];
  let seen = 0;

  const match = (req: IncomingMessage): Live | undefined => {
    const { bucket, key } = describeRequest(req);
    return rules.find(
      (l) =>
        !l.released &&
        (l.rule.times === undefined || l.hits < l.rule.times) &&
        (!l.rule.method || l.rule.method === req.method) &&
        (!l.rule.bucket || l.rule.bucket === bucket) &&
        (!l.rule.key || (key !== '' && l.rule.key.test(key))),
    );
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, beforeReply?: Live): void => {
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        const reply = () => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        };
        if (beforeReply && !beforeReply.released) {
          up.pause();
          beforeReply.waiting.push(reply);
        } else reply();
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    out.end(body);
  };

  const server: Server = createServer((req, res) => {
    seen++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const live = match(req);
      if (!live) {
        forward(req, res, body);
        return;
      }
      live.hits++;
      const a = live.rule.action;
      if ('delayMs' in a) {
        setTimeout(() => forward(req, res, body), a.delayMs);
      } else if ('fail' in a) {
        res.writeHead(a.fail, { 'content-type': 'application/xml', 'retry-after': '1' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${a.fail === 503 ? 'ServiceUnavailable' : 'InternalError'}</Code><Message>injected by the fault suite's relay</Message></Error>`,
        );
      } else if (a.hold === 'before') {
        live.held.push(res);
        live.waiting.push(() => forward(req, res, body));
      } else {
        live.held.push(res);
        forward(req, res, body, live);
      }
    });
  });
  // A client that gave up on a held request must not crash the relay.
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const releaseLive = (l: Live) => {
    l.released = true;
    const idx = rules.indexOf(l);
    if (idx >= 0) rules.splice(idx, 1);
    for (const w of l.waiting.splice(0)) w();
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    add(rule) {
      const l: Live = { rule, hits: 0, waiting: [], held: [], released: false };
      rules.push(l);
      return {
        hits: () => l.hits,
        release: () => releaseLive(l),
        drop: () => {
          l.waiting.length = 0;
          for (const r of l.held.splice(0)) r.destroy();
          releaseLive(l);
        },
      };
    },
    clear() {
      for (const l of [...rules]) releaseLive(l);
    },
    seen: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const l of [...rules]) releaseLive(l);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
