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
 * | 3 | the data directory is in use by another live process (its keel.lock, or LevelDB's LOCK) |
 * | 4 | no space left on the device (ENOSPC, EDQUOT) |
 * | 5 | cannot listen on the peer or client address (in use, not permitted, not available) |
 * | 6 | the data directory is damaged (not what this version of Keel writes) |
 * | 7 | `keel-server restore`: the backup is damaged or truncated |
 */
import { BackupError } from '@keel/protocol';
import { StoreError } from '../storage/errors.js';
import { ListenError } from '../transport/listen-error.js';

export const EXIT = {
  OK: 0,
  FATAL: 1,
  CONFIG: 2,
  DATA_DIR_IN_USE: 3,
  NO_SPACE: 4,
  LISTEN_FAILED: 5,
  DATA_DIR_DAMAGED: 6,
  BACKUP_DAMAGED: 7,
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
  if (error instanceof ListenError) return { status: EXIT.LISTEN_FAILED, message: error.message };
  if (error instanceof BackupError) return { status: EXIT.BACKUP_DAMAGED, message: error.message };
  if (error instanceof StoreError && error.code === 'NOT_EMPTY') return { status: EXIT.CONFIG, message: error.message };
  const full = causes(error).find(isNoSpace);
  if (full !== undefined) return { status: EXIT.NO_SPACE, message: `no space left on the device: ${oneLine(full)}` };
  if (error instanceof StoreError && error.code === 'CORRUPTED') {
    return { status: EXIT.DATA_DIR_DAMAGED, message: `the data directory is damaged: ${oneLine(error)}` };
  }
  return { status: EXIT.FATAL, message: oneLine(error) };
}

/** `error` and its chain of causes. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && chain.length < 8; e = e instanceof Error ? e.cause : undefined) chain.push(e);
  return chain;
}

/** An errno ENOSPC/EDQUOT, or LevelDB's text for it (its I/O errors carry no errno). */
function isNoSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return error instanceof Error && /No space left on device|Disk quota exceeded/.test(error.message);
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}
