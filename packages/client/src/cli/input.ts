/**
 * Where kvctl gets its arguments' values from: the command line, the environment, stdin.
 */
import { InvalidArgumentError } from 'commander';
import { parseAddress } from '../validate.js';

/** Endpoints used when neither --endpoints nor KEEL_ENDPOINTS is given (the `pnpm cluster` defaults). */
export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

/** Parses "host:port,host:port" (commas and/or spaces); throws commander's InvalidArgumentError. */
export function parseEndpoints(text: string): string[] {
  const list = text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new InvalidArgumentError('give at least one "host:port"');
  for (const e of list) {
    if (parseAddress(e) === undefined) throw new InvalidArgumentError(`${JSON.stringify(e)} is not a "host:port" address`);
  }
  return list;
}

/** Parses a positive integer option. */
export function parsePositiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Parses a non-negative integer option (a revision). */
export function parseNonNegativeInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** What kvctl reads stdin through (a real process's stdin, or a test's stream). */
export interface StdinLike extends AsyncIterable<Uint8Array | string> {
  readonly isTTY?: boolean;
}

/** A value is read from stdin when the argument is "-", or absent while stdin is not a terminal. */
export function valueComesFromStdin(arg: string | undefined, stdin: StdinLike): boolean {
  return arg === '-' || (arg === undefined && stdin.isTTY !== true);
}

/** Reads stdin to its end, as bytes (kept exactly: a trailing newline is part of the value). */
export async function readAll(stdin: StdinLike): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}
