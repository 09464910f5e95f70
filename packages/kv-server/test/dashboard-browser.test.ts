/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core with
 * the system executable. It loads the page from a running cluster's admin listener, sees the
 * members and the leader appear, and sees the charts move after writes — with no request leaving
 * the page's own origin. Skipped, saying so, where Chromium is not installed
 * (`apt-get install chromium`).
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { Cluster, waitForProgress } from '@keel/test-support';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const skipReason = existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM} (apt-get install chromium)`;
if (skipReason !== undefined) console.warn(`SKIPPED (dashboard in Chromium): ${skipReason}`);

let cluster: Cluster | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await cluster?.destroy();
  cluster = undefined;
});

describe.skipIf(skipReason !== undefined)(`the dashboard in headless Chromium${skipReason === undefined ? '' : ` — SKIPPED: ${skipReason}`}`, () => {
  it('shows the members and the leader of a live cluster, and its charts move after writes', async () => {
    cluster = await Cluster.start({ admin: true });
    const { id: leaderId } = await cluster.waitForLeader();
    const follower = cluster.node(cluster.ids.find((id) => id !== leaderId)!);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
    const page = await browser.newPage();
    const origin = `http://${follower.adminAddress}`;
    const elsewhere: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`${origin}/`)) elsewhere.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // Until the page shows what `expression` checks, while the page or the cluster changes.
    let puts = 0;
    const shows = (expression: string): Promise<true> =>
      waitForProgress(
        async () => (await page.evaluate(expression)) === true,
        async () => [await page.evaluate('document.body.innerText'), cluster!.outputLines, puts],
        `the page showing ${expression}`,
      );

    // Served by a follower: the page shows every member, gathered by that node.
    await page.goto(`${origin}/`);
    await shows(`document.querySelectorAll('tr[data-member-id]').length === ${cluster.ids.length}`);
    await shows(`document.querySelector('#leader').textContent.startsWith('n')`);
    expect(await page.textContent('#leader')).toMatch(new RegExp(`^n${leaderId} \\(term \\d+\\)$`));
    expect(await page.textContent('#self')).toBe(`n${follower.id}`);
    const rows = await page.$$eval('tr[data-member-id]', (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-member-id'), role: tr.getAttribute('data-role') })));
    expect(rows).toEqual(cluster.ids.map((id) => ({ id: String(id), role: id === leaderId ? 'leader' : 'follower' })));
    expect(await page.$$eval('tr.leader', (trs) => trs.map((tr) => tr.getAttribute('data-member-id')))).toEqual([String(leaderId)]);

    // Nothing was written yet: the operations chart is flat at zero.
    const total = (chart: string): Promise<number> => page.$eval(`#chart-${chart}`, (svg) => Number(svg.getAttribute('data-total')));
    expect(await total('ops')).toBe(0);

    const client = cluster.client();
    const writing = (async () => {
      for (let i = 0; i < 300; i++) await client.put(`dash/${i % 20}`, `value ${i}`).then(() => puts++);
    })();
    // The charts move: writes answered by the leader, their latency, the commit rate.
    for (const chart of ['ops', 'latency', 'commits']) {
      await shows(`Number(document.querySelector('#chart-${chart}').getAttribute('data-total')) > 0`);
    }
    expect(await page.$$eval('#chart-ops path', (paths) => paths.length)).toBeGreaterThan(0);
    await writing;

    expect(elsewhere).toEqual([]); // self-contained: nothing fetched from anywhere else
    expect(errors).toEqual([]);
  });
});
