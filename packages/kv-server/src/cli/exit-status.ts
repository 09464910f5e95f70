/**
 * keel-server's exit statuses, and the one line on stderr that names the cause of a failure.
 * They are part of the interface (supervisors and scripts act on them): never change a number's
 * meaning; add new ones at the end.
 *
 * | status | meaning |
 * |---|---|
 * | 0 | clean shutdown (SIGTERM/SIGINT) |
 * | 1 | any other failure, at start-up or while running |
 * | 2 | bad configuration |
 * | 3 | the data directory is in use by another live process |
 */
import { StoreError } from '../storage/errors.js';

export const EXIT = {
  OK: 0,
  FATAL: 1,
  CONFIG: 2,
  DATA_DIR_IN_USE: 3,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** A failure as the process reports it: its exit status and one line for stderr (no stack). */
export interface FailureReport {
  readonly status: ExitStatus;
  readonly message: string;
}

/** Names the cause of `error` (from start-up or a fatal runtime failure) and picks its exit status. */
export function describeFailure(error: unknown): FailureReport {
  if (error instanceof StoreError && error.code === 'LOCKED') return { status: EXIT.DATA_DIR_IN_USE, message: error.message };
  return { status: EXIT.FATAL, message: oneLine(error) };
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}
