import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeProcess, freePorts, runServer } from '@keel/test-support';
import { parseConfig } from '../src/cli/options.js';
import { ConfigError } from '../src/node/config.js';
import { WireClient } from './support/wire-client.js';
import { DEFAULT_ENDPOINTS } from '../../client/src/cli/input.js';

const CLUSTER = '1=127.0.0.1:7101/127.0.0.1:7201,2=127.0.0.1:7102/127.0.0.1:7202,3=127.0.0.1:7103/127.0.0.1:7203';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keel-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs keel-server expecting a configuration failure: exit 2, exactly one line on stderr, nothing on stdout. */
async function expectConfigError(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await runServer(args, env);
  expect(r.code, `stderr: ${r.stderr}\nstdout: ${r.stdout}`).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^keel-server: configuration error: /);
  return lines[0]!;
}

describe('keel-server configuration errors (exit 2, one line on stderr)', () => {
  it('requires --id', async () => {
    expect(await expectConfigError(['--data-dir', dir, '--initial-cluster', CLUSTER])).toContain('--id is required');
  });

  it('rejects a non-numeric id and names where it came from', async () => {
    expect(await expectConfigError(['--id', 'x1', '--data-dir', dir, '--initial-cluster', CLUSTER])).toContain('--id');
    const fromEnv = await expectConfigError(['--data-dir', dir, '--initial-cluster', CLUSTER], { KEEL_ID: '-3' });
    expect(fromEnv).toContain('KEEL_ID');
  });

  it('requires --data-dir', async () => {
    expect(await expectConfigError(['--id', '1', '--initial-cluster', CLUSTER])).toContain('--data-dir is required');
  });

  it('rejects an unknown option and excess arguments', async () => {
    expect(await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', CLUSTER, '--bogus'])).toContain(
      "unknown option '--bogus'",
    );
    expect(await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', CLUSTER, 'extra'])).toContain('too many arguments');
  });

  it('rejects an initial cluster without this node, with duplicates, or with bad addresses', async () => {
    expect(await expectConfigError(['--id', '4', '--data-dir', dir, '--initial-cluster', CLUSTER])).toContain(
      "does not contain this node's id 4",
    );
    expect(
      await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', `${CLUSTER},2=127.0.0.1:7104/127.0.0.1:7204`]),
    ).toContain('duplicate member id 2');
    expect(
      await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', '1=127.0.0.1:70000/127.0.0.1:7201']),
    ).toContain('port 70000');
    expect(await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', '1=localhost'])).toContain(
      'id=peerHost:peerPort/clientHost:clientPort',
    );
  });

  it('rejects peers that list this node or nodes outside the cluster', async () => {
    expect(
      await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', CLUSTER, '--peers', '1=127.0.0.1:9000']),
    ).toContain("own id 1");
    expect(
      await expectConfigError(['--id', '1', '--data-dir', dir, '--initial-cluster', CLUSTER, '--peers', '9=127.0.0.1:9000']),
    ).toContain('node 9 is not in initial-cluster');
  });

  it('rejects inconsistent tuning', async () => {
    const base = ['--id', '1', '--data-dir', dir, '--initial-cluster', CLUSTER];
    expect(await expectConfigError([...base, '--election-ticks', '5', '--heartbeat-ticks', '5'])).toContain(
      'must be less than election-ticks',
    );
    expect(await expectConfigError([...base, '--tick-ms', '0'])).toContain('--tick-ms');
    expect(await expectConfigError(base, { KEEL_SNAPSHOT_ENTRIES: 'lots' })).toContain('KEEL_SNAPSHOT_ENTRIES');
    expect(await expectConfigError([...base, '--log-level', 'chatty'])).toContain('debug, info, warn, error');
  });

  it('rejects unknown keys, wrong types and bad JSON in the config file', async () => {
    const file = join(dir, 'keel.json');
    writeFileSync(file, JSON.stringify({ id: 1, dataDir: dir, initialCluster: CLUSTER, electionTick: 10 }));
    expect(await expectConfigError(['--config', file])).toContain('unknown key "electionTick"');
    writeFileSync(file, JSON.stringify({ id: 1, dataDir: dir, initialCluster: CLUSTER, tickMs: 'fast' }));
    expect(await expectConfigError(['--config', file])).toContain('config file key "tickMs"');
    writeFileSync(file, '{"id": 1,');
    expect(await expectConfigError(['--config', file])).toContain('not valid JSON');
    expect(await expectConfigError(['--config', join(dir, 'missing.json')])).toContain('cannot read config file');
  });

  it("shows examples with the ports kvctl and pnpm cluster use (clients 7001-7003, peers 7101-7103)", async () => {
    const r = await runServer(['--help']);
    expect(r.code).toBe(0);
    const kvctlPorts = DEFAULT_ENDPOINTS.split(',').map((e) => Number(e.split(':')[1]));
    expect(kvctlPorts).toEqual([7001, 7002, 7003]);
    const members = [...r.stdout.matchAll(/(\d+)=127\.0\.0\.1:(\d+)\/127\.0\.0\.1:(\d+)/g)];
    expect(members.length).toBeGreaterThanOrEqual(3);
    for (const [, id, peer, client] of members) {
      expect(Number(client)).toBe(kvctlPorts[0]! + Number(id) - 1);
      expect(Number(peer)).toBe(kvctlPorts[0]! + 100 + Number(id) - 1);
    }
    expect(r.stdout).toContain('--listen-peer 127.0.0.1:7104 --listen-client 127.0.0.1:7004');
    expect(r.stdout).toContain('member add-learner 4 127.0.0.1:7104 127.0.0.1:7004');
  });

  it('prints help listing every environment variable, exit 0', async () => {
    const r = await runServer(['--help']);
    expect(r.code).toBe(0);
    for (const v of ['KEEL_ID', 'KEEL_PEERS', 'KEEL_INITIAL_CLUSTER', 'KEEL_DATA_DIR', 'KEEL_TICK_MS', 'KEEL_CONFIG', 'KEEL_JOIN']) {
      expect(r.stdout).toContain(v);
    }
  });
});

describe('parseConfig precedence: command line > environment > config file > default', () => {
  it('merges the three sources', () => {
    const file = join(dir, 'keel.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 1,
        dataDir: dir,
        initialCluster: [
          { id: 1, peerAddress: '127.0.0.1:7101', clientAddress: '127.0.0.1:7201' },
          { id: 2, peerAddress: '127.0.0.1:7102', clientAddress: '127.0.0.1:7202' },
        ],
        peers: { '2': '127.0.0.1:9102' },
        tickMs: 20,
        electionTicks: 30,
        snapshotEntries: 500,
      }),
    );
    const config = parseConfig(['--config', file, '--tick-ms', '25'], { KEEL_TICK_MS: '99', KEEL_ELECTION_TICKS: '12' });
    expect(config.tickMs).toBe(25); // command line beats environment and file
    expect(config.electionTicks).toBe(12); // environment beats file
    expect(config.snapshotEntries).toBe(500); // file beats default
    expect(config.heartbeatTicks).toBe(2); // default
    expect(config.listenPeer).toEqual({ host: '127.0.0.1', port: 7101 }); // from the member's own entry
    expect(config.listenClient).toEqual({ host: '127.0.0.1', port: 7201 });
    expect([...config.peerDial]).toEqual([[2, '127.0.0.1:9102']]);
    expect(config.initialCluster.map((m) => m.id)).toEqual([1, 2]);
  });

  it('accepts --join without an initial cluster but then needs listen addresses', () => {
    expect(() => parseConfig(['--id', '4', '--data-dir', dir, '--join'], {})).toThrow(ConfigError);
    const c = parseConfig(
      ['--id', '4', '--data-dir', dir, '--listen-peer', '127.0.0.1:7104', '--listen-client', '127.0.0.1:7204', '--peers', '1=127.0.0.1:7101'],
      { KEEL_JOIN: '1' },
    );
    expect(c.initialCluster).toEqual([]);
    expect(c.peerDial.get(1)).toBe('127.0.0.1:7101');
  });
});

describe('a node configured only by a config file and the environment', () => {
  it('starts, logs its effective configuration, serves, and stops on SIGTERM with exit 0', async () => {
    let [peerPort, clientPort] = (await freePorts(2)) as [number, number];
    const file = join(dir, 'keel.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 7,
        clusterId: 'from-file',
        initialCluster: `7=127.0.0.1:${peerPort}/127.0.0.1:${clientPort}`,
        dataDir: join(dir, 'data'),
        snapshotEntries: 1234,
        tickMs: 500,
      }),
    );
    // No arguments at all: everything comes from the file and the environment.
    const proc = NodeProcess.spawn({ args: [], env: { KEEL_CONFIG: file, KEEL_TICK_MS: '20', KEEL_ELECTION_TICKS: '10' } });
    try {
      await proc.waitForLog((l) => l.event === 'node.started');
      const config = proc.logs.find((l) => l.event === 'node.config')!;
      expect(config['clusterId']).toBe('from-file');
      expect(config['tickMs']).toBe(20); // environment beats the file
      expect(config['electionTicks']).toBe(10);
      expect(config['snapshotEntries']).toBe(1234); // from the file
      await proc.waitForLog((l) => l.event === 'leader.changed' && l['leader'] === 7);
      const c = await WireClient.connect(clientPort);
      try {
        expect((await c.put('k', 'v')).ok).toBe(true);
        const st = await c.call({ op: 'status' });
        expect(st).toMatchObject({ id: 7, role: 'leader', leader: 7, clientAddress: `127.0.0.1:${clientPort}` });
      } finally {
        c.close();
      }
      expect(await proc.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await proc.kill('SIGKILL');
    }
  });
});

