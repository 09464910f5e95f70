/**
 * What the user types while the cluster runs, and output that does not trample it.
 *
 * On a terminal, readline puts it in raw mode, so Ctrl-C arrives here as a key instead of as a
 * SIGINT to the whole foreground process group. The shells and pnpm between the user and this
 * process (`npx pnpm cluster` is npm -> sh -> pnpm -> sh -> node) then never see a signal: once
 * every node has stopped this process exits 0 and so do they — no "ELIFECYCLE Command failed",
 * no exit status 130. A `sh` that receives SIGINT dies of it after its child exits, whatever the
 * child did, which is why the signal must not be generated at all.
 *
 * With stdin piped, commands come one per line and signals stay signals. In the background of a
 * terminal, stdin is left alone (reading it would stop the process).
 */
import { readFileSync } from 'node:fs';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';

export interface ConsoleHandlers {
  /** A command line. */
  line(text: string): void;
  /** Ctrl-C on the terminal. */
  interrupt(): void;
}

export class Console {
  private constructor(private readonly rl: Interface | undefined) {}

  static open(handlers: ConsoleHandlers): Console {
    const stdin = process.stdin;
    if (stdin.isTTY === true && !inForeground()) return new Console(undefined);
    const terminal = stdin.isTTY === true && process.stdout.isTTY === true;
    const rl = createInterface({ input: stdin, output: process.stdout, terminal, prompt: '' });
    rl.on('line', (text) => handlers.line(text));
    rl.on('SIGINT', () => handlers.interrupt());
    return new Console(rl);
  }

  /** Writes `text` (one or more whole lines) to `stream`, keeping a half-typed command below it. */
  print(text: string, stream: NodeJS.WriteStream = process.stdout): void {
    const rl = this.rl;
    if (rl === undefined || rl.terminal !== true || rl.line === '') {
      stream.write(text);
      return;
    }
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
    stream.write(text);
    rl.prompt(true);
  }

  close(): void {
    this.rl?.close();
  }
}

/** Whether this process is in its terminal's foreground process group (Linux; elsewhere: assume so). */
function inForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5]; // pgrp === tpgid
  } catch {
    return true;
  }
}
