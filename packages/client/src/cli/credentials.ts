/**
 * kvctl's credentials: `--user name[:password]` and `--password`, and passwords typed at the
 * terminal (echo off) when none is given — as etcdctl does. Off a terminal a missing password is
 * a usage error: kvctl never waits for a password nobody is asked for.
 */
import type { StdinLike } from './input.js';

/** Raw mode of a real terminal's stdin (echo off, one key at a time). */
interface RawTerminal {
  setRawMode?(on: boolean): unknown;
}

export class PasswordPrompt {
  private iterator: AsyncIterator<Uint8Array | string> | undefined;
  private pending = '';

  constructor(
    private readonly stdin: StdinLike,
    private readonly stderr: { write(chunk: string): unknown },
    /** Thrown (built) when a password is needed and stdin is not a terminal. */
    private readonly notATerminal: (what: string) => Error,
  ) {}

  /** Reads one line typed at the terminal after `prompt`, without echo. */
  async ask(prompt: string, what: string): Promise<string> {
    if (this.stdin.isTTY !== true) throw this.notATerminal(what);
    this.stderr.write(prompt);
    const raw = this.stdin as unknown as RawTerminal;
    raw.setRawMode?.(true);
    try {
      return await this.line();
    } finally {
      raw.setRawMode?.(false);
      this.stderr.write('\n');
    }
  }

  /** The password typed twice, the same both times (for a new password). */
  async askNew(name: string): Promise<string> {
    const first = await this.ask(`Password of ${name}: `, `the new password of ${name}`);
    const again = await this.ask(`Type password of ${name} again for confirmation: `, `the new password of ${name}`);
    if (first !== again) throw this.notATerminal('the same password twice (they differ)');
    return first;
  }

  private async line(): Promise<string> {
    this.iterator ??= this.stdin[Symbol.asyncIterator]();
    let text = this.pending;
    for (;;) {
      const end = text.search(/[\r\n]/);
      if (end >= 0) {
        this.pending = text.slice(end + 1).replace(/^\n/, '');
        return text.slice(0, end);
      }
      const next = await this.iterator.next();
      if (next.done === true) {
        this.pending = '';
        return text;
      }
      const chunk = typeof next.value === 'string' ? next.value : Buffer.from(next.value).toString('utf8');
      if (chunk.includes('\u0003')) throw this.notATerminal('a password (interrupted)');
      for (const ch of chunk) text = ch === '\u007f' || ch === '\b' ? text.slice(0, -1) : text + ch;
    }
  }
}

/** `name[:password]` of --user, with --password. */
export function parseUserFlag(user: string, password: string | undefined): { user: string; password: string | undefined } {
  const colon = user.indexOf(':');
  if (colon < 0) return { user, password };
  return { user: user.slice(0, colon), password: password ?? user.slice(colon + 1) };
}
