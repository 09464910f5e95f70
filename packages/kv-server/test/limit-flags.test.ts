/**
 * The node's limits are flags (and environment variables, and config-file keys) with documented
 * defaults, and the flags reach the parts that enforce them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '@keel/test-support';
import { buildProgram, parseConfig } from '../src/cli/options.js';
import { ConfigError, NODE_DEFAULTS, effectivePeerLivenessTimeoutMs } from '../src/node/config.js';
import { WireClient, errorOf } from './support/wire-client.js';

const BASE = ['--id', '1', '--data-dir', '/tmp/keel-limit-flags', '--initial-cluster', '1=127.0.0.1:7101/127.0.0.1:7201'];

/** Every limit flag, the config field it sets, and a value other than its default. */
const LIMIT_FLAGS = [
  ['--max-uncommitted-bytes', 'maxUncommittedBytes', 0],
  ['--max-client-connections', 'maxClientConnections', 7],
  ['--client-response-budget-bytes', 'clientResponseBudgetBytes', 1 << 20],
  ['--client-first-request-timeout-ms', 'clientFirstRequestTimeoutMs', 1500],
  ['--client-frame-timeout-ms', 'clientFrameTimeoutMs', 2500],
  ['--client-idle-timeout-ms', 'clientIdleTimeoutMs', 60_000],
  ['--peer-liveness-timeout-ms', 'peerLivenessTimeoutMs', 3000],
  ['--sweep-interval-ms', 'sweepIntervalMs', 100],
  ['--apply-backlog-max', 'applyBacklogMax', 1000],
  ['--stats-interval-ms', 'statsIntervalMs', 2000],
  ['--ready-apply-lag-max', 'readyApplyLagMax', 50],
  ['--backup-stall-ms', 'backupStallMs', 5000],
] as const;

describe('limit flags', () => {
  it('every keel-server option is in the README, in the table of Running a node', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Running a node'));
    const table = section.slice(0, section.indexOf('\n### '));
    const options = buildProgram().options.map((o) => o.long!).filter((flag) => flag !== '--config');
    expect(options).toContain('--max-uncommitted-bytes');
    expect(options.filter((flag) => !table.includes(`\`${flag}\``))).toEqual([]);
    expect(table).toContain('`--config`');
  });

  it('default to the documented values', () => {
    const c = parseConfig(BASE, {});
    expect(c.maxUncommittedBytes).toBe(64 * 1024 * 1024);
    expect(c.maxClientConnections).toBe(1024);
    expect(c.clientResponseBudgetBytes).toBe(128 * 1024 * 1024);
    expect(c.clientFirstRequestTimeoutMs).toBe(10_000);
    expect(c.clientFrameTimeoutMs).toBe(10_000);
    expect(c.clientIdleTimeoutMs).toBe(300_000);
    expect(c.peerLivenessTimeoutMs).toBeUndefined();
    expect(effectivePeerLivenessTimeoutMs(c)).toBe(2 * c.electionTicks * c.tickMs); // 2 s with the default ticks
    expect(effectivePeerLivenessTimeoutMs({ electionTicks: 4, tickMs: 10 })).toBe(1000); // never below 1 s
    expect(c.sweepIntervalMs).toBe(200);
    expect(c.applyBacklogMax).toBe(8192);
    expect(c.statsIntervalMs).toBe(10_000);
    expect(c.readyApplyLagMax).toBe(1000);
    expect(c.backupStallMs).toBe(30_000);
    expect(c.listenMetrics).toBeUndefined();
    for (const [, key] of LIMIT_FLAGS) if (key !== 'peerLivenessTimeoutMs') expect(c[key]).toBe(NODE_DEFAULTS[key]);
  });

  it('set their fields from the command line, the environment and the config file', () => {
    for (const [flag, key, value] of LIMIT_FLAGS) {
      expect(parseConfig([...BASE, flag, String(value)], {})[key]).toBe(value);
      const env = `KEEL_${flag.slice(2).replaceAll('-', '_').toUpperCase()}`;
      expect(parseConfig(BASE, { [env]: String(value) })[key], env).toBe(value);
    }
    expect(parseConfig([...BASE, '--listen-metrics', '127.0.0.1:9101'], {}).listenMetrics).toEqual({ host: '127.0.0.1', port: 9101 });
  });

  it('refuse values out of range, naming the flag', () => {
    const refused = (args: string[], text: string): void => {
      expect(() => parseConfig([...BASE, ...args], {})).toThrow(ConfigError);
      expect(() => parseConfig([...BASE, ...args], {})).toThrow(text);
    };
    refused(['--max-uncommitted-bytes', '-1'], '--max-uncommitted-bytes');
    refused(['--max-client-connections', '0'], '--max-client-connections');
    refused(['--client-response-budget-bytes', '1000'], 'client-response-budget-bytes must be at least 65536');
    refused(['--peer-liveness-timeout-ms', '10'], 'peer-liveness-timeout-ms must be an integer >= 1000');
    refused(['--sweep-interval-ms', 'often'], '--sweep-interval-ms');
    refused(['--listen-metrics', '127.0.0.1:7201'], '--listen-metrics and the client port are the same');
    refused(['--listen-metrics', 'nowhere'], 'is not host:port');
  });
});

describe('limit flags on a running node', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('reach the node: the effective limits are logged at start-up, and --max-client-connections is enforced', async () => {
    cluster = await Cluster.start({
      nodes: 1,
      serverArgs: ['--max-client-connections', '2', '--client-idle-timeout-ms', '120000', '--apply-backlog-max', '512', '--peer-liveness-timeout-ms', '4000'],
    });
    const config = await cluster.node(1).waitForLog((l) => l.event === 'node.config');
    expect(config['limits']).toMatchObject({ maxClientConnections: 2, clientIdleTimeoutMs: 120_000, applyBacklogMax: 512, peerLivenessTimeoutMs: 4000 });

    // The harness's own status probe holds one connection; one more that has spoken fills the port.
    const port = Number(cluster.node(1).clientAddress.split(':')[1]);
    const first = await WireClient.connect(port);
    expect((await first.call({ op: 'status' })).id).toBe(1);
    const refused = await WireClient.connect(port);
    await refused.closed;
    const frame = refused.unmatched[0];
    expect(frame === undefined ? undefined : errorOf(frame).code).toBe('OVERLOADED');
    expect(frame === undefined ? '' : errorOf(frame).message).toContain('2 client connections open');
    first.close();
  });
});
