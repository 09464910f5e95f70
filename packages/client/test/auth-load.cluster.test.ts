/**
 * Issue 14: auth enabled and disabled while writes are in flight. A user with permission keeps
 * writing through every switch: each write is acknowledged and applied exactly once (version 1),
 * none is lost. A user without permission is served while auth is off and refused with a definite
 * PERMISSION_DENIED while it is on: each of its writes is either acknowledged and present, or
 * refused and absent.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KeelClient, KeelError } from '@keel/client';
import { Cluster } from '@keel/test-support';

let cluster: Cluster;
const clients: KeelClient[] = [];

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3 });
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await cluster?.destroy();
});

function client(auth?: { user: string; password: string }): KeelClient {
  const c = new KeelClient({ endpoints: cluster.endpoints, timeoutMs: 20_000, ...(auth !== undefined ? { auth } : {}) });
  clients.push(c);
  return c;
}

/**
 * Runs `write(i)` for i = 0, 1, … with `concurrency` in flight, at least `n` writes and then
 * until `enough(outcomes)` (at most 20 n); the outcome of each.
 */
async function load(
  n: number,
  concurrency: number,
  write: (i: number) => Promise<unknown>,
  enough: (outcomes: ReadonlyArray<KeelError | 'ok'>) => boolean = () => true,
): Promise<Array<KeelError | 'ok'>> {
  const outcomes: Array<KeelError | 'ok'> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n || (!enough(outcomes) && next < 20 * n)) {
        const i = next++;
        outcomes[i] = await write(i).then(
          () => 'ok' as const,
          (e: unknown) => {
            if (!(e instanceof KeelError)) throw e;
            return e;
          },
        );
      }
    }),
  );
  return outcomes;
}

it('keeps every acknowledged write, exactly once, while auth is switched on and off', async () => {
  const setup = client();
  await setup.userAdd('root', 'root-pw');
  await setup.userAdd('alice', 'alice-pw');
  await setup.userAdd('carol', 'carol-pw');
  await setup.roleAdd('app');
  await setup.roleGrant('app', 'readwrite', { prefix: 'app/' });
  await setup.userGrantRole('alice', 'app');
  const root = client({ user: 'root', password: 'root-pw' });
  const alice = client({ user: 'alice', password: 'alice-pw' });
  const carol = client({ user: 'carol', password: 'carol-pw' });

  const N = 1500;
  let writing = true;
  const switches: boolean[] = [];
  const switching = (async () => {
    let on = false;
    while (writing) {
      on = !on;
      await (on ? root.authEnable() : root.authDisable());
      switches.push(on);
    }
    if (on) await root.authDisable();
  })();
  const [aliceOutcomes, carolOutcomes] = await Promise.all([
    load(N, 32, (i) => alice.put(`app/w-${i}`, `v${i}`)),
    // Until carol was both served (auth off) and refused (auth on): the switches happened under her writes.
    load(N, 16, (i) => carol.put(`x/c-${i}`, `v${i}`), (o) => o.includes('ok') && o.some((x) => x !== 'ok')),
  ]).finally(() => (writing = false));
  await switching;

  expect(switches.length).toBeGreaterThanOrEqual(2); // on and off at least once while the writes ran
  expect(aliceOutcomes.filter((o) => o !== 'ok')).toEqual([]);
  const refused = carolOutcomes.filter((o): o is KeelError => o !== 'ok');
  expect(refused.length).toBeGreaterThan(0);
  expect(refused.length).toBeLessThan(carolOutcomes.length);
  for (const e of refused) expect([e.code, e.definite]).toEqual(['PERMISSION_DENIED', true]);

  const check = client({ user: 'root', password: 'root-pw' });
  const written = new Map<string, { text: string; version: number }>();
  for (const prefix of ['app/', 'x/']) {
    let start = prefix;
    for (;;) {
      const page = await check.scan({ start, end: prefix === 'app/' ? 'app0' : 'x0' }, { limit: 1000 });
      for (const e of page.entries) written.set(e.keyText, { text: e.text, version: e.version });
      if (!page.more) break;
      start = page.entries[page.entries.length - 1]!.keyText + '\0';
    }
  }
  for (let i = 0; i < N; i++) expect(written.get(`app/w-${i}`), `app/w-${i}`).toEqual({ text: `v${i}`, version: 1 });
  for (let i = 0; i < carolOutcomes.length; i++) {
    const got = written.get(`x/c-${i}`);
    if (carolOutcomes[i] === 'ok') expect(got, `x/c-${i}`).toEqual({ text: `v${i}`, version: 1 });
    else expect(got, `x/c-${i}`).toBeUndefined();
  }
});
