/** Parses a "host:port" address ("[::1]:7001" for IPv6). Throws `TypeError` on nonsense. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  let host = colon > 0 ? address.slice(0, colon) : '';
  const port = Number(address.slice(colon + 1));
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.length === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`expected a "host:port" address, got ${JSON.stringify(address)}`);
  }
  return { host, port };
}
