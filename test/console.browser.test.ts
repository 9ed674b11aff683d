/**
 * The console as a person uses it: Debian's chromium (installed by .ci/run when absent) driven by
 * playwright-core, over a folder store holding a published month, a failed month and a month
 * waiting for its third file. The page opens with the token in the URL fragment, shows the graph,
 * the grid and the failed run's message in words; the failed run is re-executed after its input is
 * fixed, and the page shows the month published. A screenshot is saved under test/output/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedConsole } from '@bottleneck/cli/console';
import { cleanupTmp, ROOT, tmp } from './helpers.js';
import { FAILED, makeConsoleStore, PUBLISHED, WAITING, type ConsoleStore } from './console-store.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-test-token-abcdef0123456789';
export const OUTPUT = join(ROOT, 'test', 'output');
if (!existsSync(CHROMIUM))
  console.warn(`${CHROMIUM} is absent: the console's browser test is skipped (.ci/run installs Debian's chromium)`);

describe.skipIf(!existsSync(CHROMIUM))('the console page in a browser', () => {
  let store: ConsoleStore;
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  let page: Page;
  const requests: { url: string; cookie?: string }[] = [];

  beforeAll(async () => {
    store = await makeConsoleStore(await tmp('bn-console-browser-'));
    ({ app } = await embeddedConsole(store.out, { token: TOKEN, refreshMs: 0 }));
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1700 } });
    page.on('request', (r) =>
      requests.push({ url: r.url(), ...(r.headers().cookie ? { cookie: r.headers().cookie } : {}) }),
    );
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await cleanupTmp();
  });

  it('opens with the token from the URL fragment, and keeps it out of URLs and cookies', async () => {
    await page.goto(`${url}/#token=${TOKEN}`);
    await page.locator('#graph svg').waitFor();
    expect(page.url()).toBe(`${url}/`);
    expect(requests.every((r) => !r.url.includes(TOKEN) && !r.cookie)).toBe(true);
    expect(await page.context().cookies()).toEqual([]);
  });

  it("shows the graph, and the grid with each month's status in words", async () => {
    const nodes = page.locator('#graph g.node');
    const graph = (await (
      await app.inject({ url: '/api/graph', headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { assets: { key: string }[] };
    expect(await nodes.count()).toBe(graph.assets.length);
    const row = (p: string) => page.locator(`#grid tr[data-partition="${p}"]`);
    await expect.poll(() => row(PUBLISHED).locator('td.words').textContent()).toMatch(/^published by run /);
    expect(await row(FAILED).locator('.st').first().textContent()).toBe('failed');
    expect(await row(WAITING).locator('td.words').textContent()).toBe(
      'erp.xlsx and web.xlsx arrived, waiting for liaison.xlsx',
    );
    expect(await row(WAITING).locator('.st').first().textContent()).toBe('waiting-for-files');
  });

  it("shows the failed month's graph and its run's error in words", async () => {
    await page.selectOption('#month', FAILED);
    await expect
      .poll(() => page.locator('#graph g.node[data-asset="raw_erp"]').getAttribute('data-state'))
      .toBe('failed');
    expect(await page.locator('#graph g.node[data-asset="merged_with_revenue"]').getAttribute('data-state')).toBe(
      'not-run',
    );
    await page.locator('#run-error').waitFor();
    expect(await page.locator('#run-error').textContent()).toBe(
      'ingest (raw_erp) failed: erp.xlsx is truncated or corrupt (no zip central directory): the file was cut during copy or upload; drop it again',
    );
    expect(await page.locator(`.run-row[data-run="${store.failedRunId}"] .gantt`).count()).toBe(1);
    // What the README shows (docs/console.png is this file, copied).
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'console-failed-month.png') });
  });

  it('re-executes the failed run after its input is fixed, with a confirmation, and shows the month published', async () => {
    await store.fixFailedInput();
    await page.click('#reexecute');
    await page.locator('#confirm[open]').waitFor();
    expect(await page.locator('#confirm-text').textContent()).toContain(
      `Re-execute run ${store.failedRunId} from its failed stage (ingest)`,
    );
    await page.click('#confirm-ok');
    await page.locator('#status-line.published').waitFor({ timeout: 120_000 });
    expect(await page.locator('#status-line').textContent()).toMatch(
      new RegExp(`^${FAILED}: published \\(published by run ${FAILED}-`),
    );
    await page.locator('#graph g.node[data-asset="extracts"][data-state="materialized"]').waitFor();
    const child = page.locator('.run-row[data-status="published"]');
    expect(await child.locator('.head').textContent()).toContain(`reexecution of ${store.failedRunId}`);
    await page.click('#graph g.node[data-asset="merged_with_revenue"]');
    await page.locator('#asset table tr').nth(2).waitFor();
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'console.png'), fullPage: true });
    expect(existsSync(join(OUTPUT, 'console.png'))).toBe(true);
  });

  it('asks for the token once when the link carries none, and refuses a wrong one', async () => {
    const other = await browser.newPage();
    await other.goto(`${url}/`);
    await other.locator('#login').waitFor();
    await other.fill('#token', 'wrong');
    await other.click('#login button');
    await expect.poll(() => other.locator('#login-error').textContent()).toBe('The token was refused: enter it again.');
    await other.fill('#token', TOKEN);
    await other.click('#login button');
    await other.locator('#graph svg').waitFor();
    await other.close();
  });
});
