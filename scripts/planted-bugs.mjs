#!/usr/bin/env node
// node scripts/planted-bugs.mjs [tree] [--only N,M]
// Plants one-line bugs of the kinds issue 17 names (figures, delivery order, idempotency, retries,
// checks, export safety), one at a time, in the working tree given (default: this one), builds,
// runs the unit suite (vitest run --bail 1: the first failing test is enough), records whether it
// failed (caught), and restores the file. The table is printed and written to
// .cache/planted-bugs/<tree name>.json. Run it on a clean tree: it restores files by their content.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

const args = process.argv.slice(2);
const tree = resolve(args.find((a) => !a.startsWith('--')) ?? '.');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set(args[onlyAt + 1].split(',').map(Number)) : null;
// --src: the tree's unit tests import the sources (vitest.aliases.ts), so a failure without a build
// is a catch; only a bug the suite misses is built and run again (the acceptance tests run dist/).
const srcFirst = args.includes('--src');

/** Each bug: what it breaks, and its edits: [files (the first holding `find` is edited), find, replace]. */
const BUGS = [
  {
    area: 'figures',
    what: 'premium threshold `>` turned `>=` (select_wines.sql)',
    edits: [
      [
        ['services/analytics/src/assets/select_wines.sql'],
        'coalesce(z_score, 0) > $threshold',
        'coalesce(z_score, 0) >= $threshold',
      ],
    ],
  },
  {
    area: 'figures',
    what: 'population instead of sample standard deviation (n, not n - 1)',
    edits: [
      [['services/analytics/src/assets/create_wine_price_zscores.sql'], '(n * (n - 1))::DOUBLE', '(n * n)::DOUBLE'],
    ],
  },
  {
    area: 'figures',
    what: 'web dedupe keeps the oldest post_modified (DESC turned ASC)',
    edits: [
      [
        ['services/clean/src/assets/create_web_clean.sql'],
        'ORDER BY post_modified DESC NULLS LAST, _row',
        'ORDER BY post_modified ASC NULLS LAST, _row',
      ],
    ],
  },
  {
    area: 'figures',
    what: 'web dedupe tie broken by the last row in the file',
    edits: [
      [
        ['services/clean/src/assets/create_web_clean.sql'],
        'ORDER BY post_modified DESC NULLS LAST, _row)',
        'ORDER BY post_modified DESC NULLS LAST, _row DESC)',
      ],
    ],
  },
  {
    area: 'delivery order',
    what: 'done-marker written before the event is published (runner.ts)',
    // The runner's steps are named functions since 78bb7d0: the handling calls publishEvents, then
    // writeOutcome and writeMarker; the bug moves the publish after the marker.
    edits: [
      [['shared/src/stage/runner.ts'], '    await publishEvents(bus, out, deadline);\n', ''],
      [
        ['shared/src/stage/runner.ts'],
        '      await writeMarker(ctx.store, marker, event, out, after);\n',
        '      await writeMarker(ctx.store, marker, event, out, after);\n      await publishEvents(bus, out, deadline);\n',
      ],
    ],
  },
  {
    area: 'delivery order',
    what: '_current.json pointer written before the manifest (extracts.ts)',
    edits: [
      [
        ['services/publisher/src/assets/extracts.ts'],
        "  const put = await ctx.store.put(manifestKey, JSON.stringify(manifest, null, 2) + '\\n', {\n    contentType: 'application/json',\n  });\n",
        '',
      ],
      [
        ['services/publisher/src/assets/extracts.ts'],
        '  await prune(ctx, partition, runId);',
        "  const put = await ctx.store.put(manifestKey, JSON.stringify(manifest, null, 2) + '\\n', { contentType: 'application/json' });\n  await prune(ctx, partition, runId);",
      ],
    ],
  },
  {
    area: 'idempotency',
    what: 'input version hash ignores the ETag (claims.ts)',
    edits: [[['services/ingest/src/claims.ts'], '`${o.key}:${o.etag}:${o.bytes}`', '`${o.key}:${o.bytes}`']],
  },
  {
    area: 'idempotency',
    what: "the stage runner looks for another stage's marker (redelivery handled twice)",
    edits: [
      [['shared/src/stage/runner.ts'], '() => ctx.store.head(marker),', '() => ctx.store.head(`${marker}.seen`),'],
    ],
  },
  {
    area: 'idempotency',
    what: "alerter sends without marking the alert 'sending' first (a crash mid-send mails twice)",
    edits: [[['services/alerter/src/delivery.ts'], '    await this.write(marked);\n', '']],
  },
  {
    area: 'retries',
    what: 'S3 adapter treats every 4xx as retriable',
    edits: [
      [
        ['shared/src/adapters/s3-errors.ts', 'shared/src/adapters/s3-store.ts'],
        '  if (status !== undefined) return false;',
        '  if (status !== undefined) return status >= 400;',
      ],
    ],
  },
  {
    area: 'retries',
    what: 'SendGrid adapter treats every 4xx as retriable',
    edits: [
      [
        ['shared/src/adapters/sendgrid-errors.ts', 'shared/src/adapters/sendgrid-mailer.ts'],
        'status === 429 || status >= 500',
        'status >= 400',
      ],
    ],
  },
  {
    area: 'retries',
    what: 'withRetry makes one retry more than asked (`>=` turned `>`)',
    edits: [[['shared/src/retry/index.ts'], ': attempt >= retries', ': attempt > retries']],
  },
  {
    area: 'checks',
    what: 'price_not_negative flags a price of 0 (`<` turned `<=`)',
    edits: [
      [['services/clean/src/assets/check_erp_clean_price_not_negative.sql'], 'WHERE price < 0', 'WHERE price <= 0'],
    ],
  },
  {
    area: 'checks',
    what: 'keys_unique ignores duplicate skus',
    edits: [
      [
        ['services/merge/src/assets/check_merged_with_revenue_keys_unique.sql'],
        'duplicate_product_ids = 0 AND duplicate_skus = 0',
        'duplicate_product_ids = 0',
      ],
    ],
  },
  {
    area: 'export safety',
    what: 'a text cell starting with @ is not neutralised',
    edits: [
      [
        ['shared/src/text/sanitize.ts'],
        'const DANGEROUS_START = /^[=+\\-@\\t\\r\\0]/;',
        'const DANGEROUS_START = /^[=+\\-\\t\\r\\0]/;',
      ],
    ],
  },
  {
    area: 'figures',
    what: 'revenue rounded to the tenth instead of the cent',
    edits: [
      [
        ['services/merge/src/assets/create_merged_with_revenue.sql'],
        'round(e.price * w.total_sales, 2)',
        'round(e.price * w.total_sales, 1)',
      ],
    ],
  },
];

const run = (cmd, argv) =>
  spawnSync(cmd, argv, {
    cwd: tree,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    maxBuffer: 1 << 28,
  });

const results = [];
for (const [i, bug] of BUGS.entries()) {
  const n = i + 1;
  if (only && !only.has(n)) continue;
  const saved = new Map();
  let applied = true;
  for (const [files, find, replace] of bug.edits) {
    const file = files.map((f) => join(tree, f)).find((f) => existsSync(f) && readFileSync(f, 'utf8').includes(find));
    if (!file) {
      applied = false;
      break;
    }
    if (!saved.has(file)) saved.set(file, readFileSync(file, 'utf8'));
    writeFileSync(file, readFileSync(file, 'utf8').replace(find, replace));
  }
  let caught = null;
  let by = '';
  const t0 = Date.now();
  const test = () => {
    const t = run('npx', ['vitest', 'run', '--bail', '1']);
    const failed = `${t.stdout}\n${t.stderr}`.split('\n').find((l) => /^\s*(FAIL|×)/.test(l));
    return { caught: t.status !== 0, by: t.status !== 0 ? (failed ?? '').trim().slice(0, 200) : '' };
  };
  if (applied) {
    if (srcFirst) ({ caught, by } = test());
    if (!caught) {
      const build = run('npm', ['run', 'build']);
      if (build.status !== 0) {
        caught = true;
        by = 'the build (tsc)';
      } else ({ caught, by } = test());
    }
  }
  for (const [file, text] of saved) writeFileSync(file, text);
  const row = { n, area: bug.area, bug: bug.what, applied, caught, by, seconds: Math.round((Date.now() - t0) / 1000) };
  results.push(row);
  console.log(JSON.stringify(row));
}
run('npm', ['run', 'build']);
const dir = join(tree, '.cache/planted-bugs');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `${basename(tree)}.json`), JSON.stringify(results, null, 2) + '\n');
const applied = results.filter((r) => r.applied);
console.log(`caught ${applied.filter((r) => r.caught).length} of ${applied.length} (${tree})`);
