/**
 * Where the netns network's addresses come from: one /24 out of 198.18.0.0/15, the block
 * reserved for benchmarking network devices (RFC 2544, RFC 6890: not routed on the Internet, and
 * unlike 10/8 or 192.168/16 rarely used by a LAN or VPN a test machine might be on). A subnet is
 * taken only when no address or route of the host overlaps it (a VPN or another run's bridge).
 * The bridge is `.1`; nodes get `.2` to `.254`.
 */

/** An IPv4 prefix: its first address as an unsigned 32-bit integer, and its length. */
export interface Prefix {
  readonly base: number;
  readonly length: number;
}

export const RANGE: Prefix = { base: ipToNumber('198.18.0.0'), length: 15 };
export const SUBNET_LENGTH = 24;
/** Host numbers a node may have in its /24 (.1 is the bridge). */
export const FIRST_NODE_HOST = 2;
export const LAST_NODE_HOST = 254;

export function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new TypeError(`not an IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "198.18.7.0/24" or "198.18.7.1" (a /32) -> Prefix; "default" -> 0.0.0.0/0. */
export function parsePrefix(text: string): Prefix {
  if (text === 'default') return { base: 0, length: 0 };
  const [ip, len] = text.split('/');
  const length = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(length) || length < 0 || length > 32) throw new TypeError(`not an IPv4 prefix: ${text}`);
  return { base: (ipToNumber(ip!) & mask(length)) >>> 0, length };
}

export function formatPrefix(p: Prefix): string {
  return `${numberToIp(p.base)}/${p.length}`;
}

/** Whether two prefixes share an address (one contains the other). */
export function overlaps(a: Prefix, b: Prefix): boolean {
  const m = mask(Math.min(a.length, b.length));
  return ((a.base & m) >>> 0) === ((b.base & m) >>> 0);
}

/** A /24 of RANGE that overlaps none of `taken` (default routes are not counted), at random; undefined when none is free. */
export function chooseSubnet(taken: readonly Prefix[], random: () => number = Math.random): Prefix | undefined {
  const used = taken.filter((p) => p.length > 0);
  const count = 2 ** (SUBNET_LENGTH - RANGE.length);
  const free: Prefix[] = [];
  for (let i = 0; i < count; i++) {
    const subnet = { base: RANGE.base + i * 2 ** (32 - SUBNET_LENGTH), length: SUBNET_LENGTH };
    if (!used.some((p) => overlaps(p, subnet))) free.push(subnet);
  }
  return free[Math.floor(random() * free.length)];
}

/** Address `host` (1..254) of `subnet`. */
export function hostAddress(subnet: Prefix, host: number): string {
  return numberToIp(subnet.base + host);
}

function mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}
