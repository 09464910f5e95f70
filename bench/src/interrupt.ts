/**
 * Ctrl-C (SIGINT) and SIGTERM: stop issuing requests (`interruption`), run every registered
 * cleanup (stop the clusters a run started, by PID), then exit 130. A second signal exits at
 * once; the harness's exit hook still kills any keel-server left, and the etcd side's exit hook
 * its members.
 */
const cleanups = new Set<() => Promise<unknown>>();
let installed = false;
const controller = new AbortController();

/**
 * Aborted on the first signal. A load loop must watch it: once the clients are closed every
 * request fails at once, without yielding to the event loop, so a loop that kept going would
 * starve the cleanup.
 */
export const interruption: AbortSignal = controller.signal;

/** Runs `cleanup` if the bench is interrupted while it is registered; returns the unregister function. */
export function onInterrupt(cleanup: () => Promise<unknown>): () => void {
  install();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function install(): void {
  if (installed) return;
  installed = true;
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    process.stderr.write(`\nbench: ${signal}: stopping the clusters…\n`);
    void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
