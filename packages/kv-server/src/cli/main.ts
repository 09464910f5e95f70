import { mkdirSync } from 'node:fs';
import { CommanderError } from 'commander';
import { ConfigError, effectivePeerLivenessTimeoutMs, type KeelNodeConfig } from '../node/config.js';
import { JsonLogger } from '../node/json-logger.js';
import type { KeelNode } from '../node/keel-node.js';
import { EXIT, describeFailure } from './exit-status.js';
import { parseConfig } from './options.js';

/**
 * `keel-server` (and `keel-server restore …`, see restore.ts): parse and validate the
 * configuration (exit 2 with one line on stderr when it is bad), start the node, and shut it down
 * cleanly on SIGTERM/SIGINT (exit 0); SIGHUP reloads the TLS certificates. A failure to start,
 * or a fatal one while running, is logged as JSON and named in one line on stderr, with an exit
 * status for its cause (`exit-status.ts`).
 */

/** A shutdown that takes longer than this is abandoned (exit 1). */
const SHUTDOWN_TIMEOUT_MS = 15_000;

function configFailure(message: string): never {
  process.stderr.write(`keel-server: configuration error: ${message}\n`);
  process.exit(EXIT.CONFIG);
}

function loadConfig(): KeelNodeConfig {
  try {
    return parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(EXIT.OK); // --help
      configFailure(err.message.replace(/^error: /, ''));
    }
    if (err instanceof ConfigError) configFailure(err.message);
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (err) {
    configFailure(`cannot create data dir ${config.dataDir}: ${(err as Error).message}`);
  }
  const logger = new JsonLogger(config.logLevel, () => ({ nodeId: config.id }));
  let started: Promise<KeelNode | undefined> = Promise.resolve(undefined);
  let stopping = false;

  const exitAfterLog = (code: number): never => process.exit(code);
  /** The node cannot go on: one line on stderr naming the cause, and its exit status. */
  const failed = (event: string, err: unknown): never => {
    const report = describeFailure(err);
    logger.log('error', event, { error: report.message, cause: errorCode(err), exitStatus: report.status });
    process.stderr.write(`keel-server: ${report.message}\n`);
    return exitAfterLog(report.status);
  };
  /** A bug: the log line keeps the stack; stderr names it in one line. */
  const crashed = (event: string, err: unknown): never => {
    const report = describeFailure(err);
    logger.log('error', event, { error: err });
    process.stderr.write(`keel-server: unexpected failure (see the ${event} log line): ${report.message}\n`);
    return exitAfterLog(report.status);
  };
  process.on('uncaughtException', (err) => crashed('process.uncaught_exception', err));
  process.on('unhandledRejection', (reason) => crashed('process.unhandled_rejection', reason));

  const stop = (signal: string): void => {
    if (stopping) {
      logger.log('warn', 'process.signal_again', { signal });
      return;
    }
    stopping = true;
    logger.log('info', 'process.signal', { signal });
    const timer = setTimeout(() => {
      logger.log('error', 'process.shutdown_timeout', { timeoutMs: SHUTDOWN_TIMEOUT_MS });
      process.stderr.write(`keel-server: the shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms; exiting without finishing it\n`);
      exitAfterLog(EXIT.FATAL);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    started.then((node) => node?.close()).then(
      () => exitAfterLog(EXIT.OK),
      (err: unknown) => crashed('process.shutdown_failed', err),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.log('info', 'process.signal', { signal: 'SIGHUP' });
    void started.then((node) => node?.reloadTls());
  });

  logger.log('info', 'node.config', {
    id: config.id,
    clusterId: config.clusterId,
    listenPeer: `${config.listenPeer.host}:${config.listenPeer.port}`,
    listenClient: `${config.listenClient.host}:${config.listenClient.port}`,
    initialCluster: config.initialCluster,
    peerDial: config.peerDial,
    dataDir: config.dataDir,
    tls: config.tls,
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    snapshotEntries: config.snapshotEntries,
    historyRetention: config.historyRetention,
    requestTimeoutMs: config.requestTimeoutMs,
    limits: {
      pendingProposalsMax: config.pendingProposalsMax,
      pendingProposalBytesMax: config.pendingProposalBytesMax,
      pendingReadsMax: config.pendingReadsMax,
      maxUncommittedBytes: config.maxUncommittedBytes,
      maxClientConnections: config.maxClientConnections,
      clientResponseBudgetBytes: config.clientResponseBudgetBytes,
      clientFirstRequestTimeoutMs: config.clientFirstRequestTimeoutMs,
      clientFrameTimeoutMs: config.clientFrameTimeoutMs,
      clientIdleTimeoutMs: config.clientIdleTimeoutMs,
      peerLivenessTimeoutMs: effectivePeerLivenessTimeoutMs(config),
      sweepIntervalMs: config.sweepIntervalMs,
      applyBacklogMax: config.applyBacklogMax,
      statsIntervalMs: config.statsIntervalMs,
      readyApplyLagMax: config.readyApplyLagMax,
      backupStallMs: config.backupStallMs,
    },
    listenMetrics: config.listenMetrics === undefined ? null : `${config.listenMetrics.host}:${config.listenMetrics.port}`,
    pid: process.pid,
  });
  // Loaded after validation: a configuration error never depends on the node's modules loading.
  const { KeelNode } = await import('../node/keel-node.js');
  started = KeelNode.start(config, logger, { onFatal: (err) => failed('node.fatal', err) }).catch((err: unknown) => {
    // The data dir disagrees with the configuration (found once the store is open).
    if (err instanceof ConfigError) configFailure(err.message);
    return failed('node.start_failed', err);
  });
  await started;
}

/** The most specific code on `err` or its causes (an errno like EADDRINUSE, or a store/Level code). */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

if (process.argv[2] === 'restore') {
  const { runRestore } = await import('./restore.js');
  process.exit(await runRestore(process.argv.slice(3)));
}
await main();
