/** The errors that end a watch, with their stable codes and the facts a client needs to resume. */
import { KeelError, LIMITS } from '@keel/protocol';

export function compactedError(fromRevision: number, compactRevision: number): KeelError {
  return new KeelError(
    'COMPACTED',
    `revision ${fromRevision} has been compacted; the oldest available revision is ${compactRevision} (watch from there, after reading the current state)`,
    { compactRevision },
  );
}

export function overflowError(lastRevision: number): KeelError {
  return new KeelError(
    'WATCH_OVERFLOW',
    `the watcher fell more than ${LIMITS.watchQueueBytesMax} bytes behind and was cancelled; it was sent every change through revision ${lastRevision}: resume from ${lastRevision + 1}`,
  );
}

export function tooManyWatchesError(max: number): KeelError {
  return new KeelError('OVERLOADED', `this connection has ${max} watches open (LIMITS.watchesPerConnectionMax); cancel one first`);
}

export function watchesShutDownError(): KeelError {
  return new KeelError('SHUTTING_DOWN', 'the node is shutting down; resume the watch on another node', { definite: true });
}

export function noLeaderError(leaderlessMs: number): KeelError {
  return new KeelError(
    'UNAVAILABLE',
    `this node has known no leader for ${leaderlessMs} ms (it is cut off from the cluster, or no election succeeds) and serves no watch: resume the watch on another node`,
    { definite: true },
  );
}
