/**
 * The parts of the netns network that need no root: the subnet it chooses, the iptables rules a
 * cut becomes, and the names that let a later run tell its leftovers from everything else.
 * The kernel side runs in netns-network.test.ts and netns-cluster.test.ts (as root).
 */
import { describe, expect, it } from 'vitest';
import { filterTable, type RuleNode } from '../src/network/netns/rules.js';
import { bridgeOwner, namespaceOwner, namespaceVeth, runNames } from '../src/network/netns/names.js';
import { chooseSubnet, formatPrefix, hostAddress, overlaps, parsePrefix } from '../src/network/netns/subnet.js';

describe('the netns subnet', () => {
  it('parses prefixes and tells overlapping ones apart', () => {
    expect(formatPrefix(parsePrefix('198.18.7.9/24'))).toBe('198.18.7.0/24');
    expect(formatPrefix(parsePrefix('10.1.2.3'))).toBe('10.1.2.3/32');
    expect(formatPrefix(parsePrefix('default'))).toBe('0.0.0.0/0');
    expect(overlaps(parsePrefix('198.18.0.0/15'), parsePrefix('198.19.255.0/24'))).toBe(true);
    expect(overlaps(parsePrefix('198.18.7.0/24'), parsePrefix('198.18.7.200'))).toBe(true);
    expect(overlaps(parsePrefix('198.18.7.0/24'), parsePrefix('198.18.8.0/24'))).toBe(false);
    expect(overlaps(parsePrefix('198.20.0.0/16'), parsePrefix('198.18.0.0/15'))).toBe(false);
    expect(() => parsePrefix('198.18.300.1/24')).toThrow(TypeError);
    expect(() => parsePrefix('198.18.3.1/33')).toThrow(TypeError);
  });

  it('chooses a /24 of 198.18.0.0/15 that no address or route of the host overlaps; a default route does not count', () => {
    const first = chooseSubnet([], () => 0)!;
    expect(formatPrefix(first)).toBe('198.18.0.0/24');
    expect(formatPrefix(chooseSubnet([], () => 0.999999)!)).toBe('198.19.255.0/24');
    expect(hostAddress(first, 1)).toBe('198.18.0.1');
    // The first few /24s are taken by an address, a route, and a host route; a default route is no obstacle.
    const taken = ['198.18.0.1/24', '198.18.1.0/24', '198.18.2.77', 'default', '10.0.0.0/8'].map(parsePrefix);
    expect(formatPrefix(chooseSubnet(taken, () => 0)!)).toBe('198.18.3.0/24');
    // A VPN that routes the whole block leaves nothing.
    expect(chooseSubnet([parsePrefix('198.16.0.0/12')], () => 0)).toBeUndefined();
    // Every choice avoids every taken prefix.
    for (let i = 0; i < 200; i++) {
      const s = chooseSubnet(taken)!;
      expect(taken.filter((p) => p.length > 0).some((p) => overlaps(p, s)), formatPrefix(s)).toBe(false);
    }
  });
});

describe('the netns cut rules', () => {
  const node = (id: number): RuleNode => ({ id, address: `198.18.7.${id + 1}`, peerPort: 2380 + id });
  const nodes = new Map([1, 2, 3].map((id) => [id, node(id)]));
  const rules = (id: number, cuts: Parameters<typeof filterTable>[2]): string[] =>
    filterTable(node(id), nodes, cuts)
      .split('\n')
      .filter((l) => l.startsWith('-A'));

  it('a whole filter table for iptables-restore, empty when nothing is cut', () => {
    expect(filterTable(node(1), nodes, [])).toBe('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
  });

  it("blackhole 1 -> 2: node 2's INPUT drops node 1's packets on connections dialed either way; node 1 gets no rule", () => {
    const cuts = [{ from: 1, to: 2, mode: 'blackhole' as const }];
    expect(rules(2, cuts)).toEqual([
      '-A INPUT -s 198.18.7.2/32 -p tcp --dport 2382 -j DROP', // 1's dials to 2's peer port
      '-A INPUT -s 198.18.7.2/32 -p tcp --sport 2381 -j DROP', // 2's dials to 1's peer port, 1's side of them
    ]);
    expect(rules(1, cuts)).toEqual([]);
    expect(rules(3, cuts)).toEqual([]);
  });

  it("reset 1 -> 2: node 2 rejects node 1's packets except resets; node 1 refuses node 2's new dials", () => {
    const cuts = [{ from: 1, to: 2, mode: 'reset' as const }];
    expect(rules(2, cuts)).toEqual([
      '-A INPUT -s 198.18.7.2/32 -p tcp --dport 2382 ! --tcp-flags RST RST -j REJECT --reject-with tcp-reset',
      '-A INPUT -s 198.18.7.2/32 -p tcp --sport 2381 ! --tcp-flags RST RST -j REJECT --reject-with tcp-reset',
    ]);
    expect(rules(1, cuts)).toEqual(['-A INPUT -s 198.18.7.3/32 -p tcp --dport 2381 --syn -j REJECT --reject-with tcp-reset']);
  });

  it('an explicit cut of the other direction comes before the refusal a reset cut implies', () => {
    const cuts = [{ from: 1, to: 2, mode: 'reset' as const }, { from: 2, to: 1, mode: 'blackhole' as const }];
    expect(rules(1, cuts)).toEqual([
      '-A INPUT -s 198.18.7.3/32 -p tcp --dport 2381 -j DROP',
      '-A INPUT -s 198.18.7.3/32 -p tcp --sport 2382 -j DROP',
      '-A INPUT -s 198.18.7.3/32 -p tcp --dport 2381 --syn -j REJECT --reject-with tcp-reset',
    ]);
  });

  it('leaves out cuts to or from a node it does not know', () => {
    expect(rules(2, [{ from: 9, to: 2, mode: 'blackhole' }])).toEqual([]);
    expect(rules(2, [{ from: 2, to: 9, mode: 'reset' }])).toEqual([]);
  });
});

describe('the netns names', () => {
  it("name a run's namespaces and bridge so that its pid can be read back, and nothing else matches", () => {
    const names = runNames(4194304, 'ab12cd');
    expect(names.run).toBe('keel-4194304-ab12cd');
    expect(names.namespace(3)).toBe('keel-4194304-ab12cd-3');
    expect(names.bridge).toBe('kb-ab12cd');
    expect(names.veth(99999)).toBe('kv-ab12cd-99999');
    expect(names.veth(99999).length).toBeLessThanOrEqual(15); // IFNAMSIZ - 1
    expect(() => names.veth(100000)).toThrow(RangeError);
    expect(runNames().run).toMatch(new RegExp(`^keel-${process.pid}-[0-9a-z]{6}$`));

    expect(namespaceOwner('keel-4194304-ab12cd-3')).toBe(4194304);
    expect(namespaceVeth('keel-4194304-ab12cd-3')).toBe('kv-ab12cd-3');
    expect(namespaceVeth('keel-4194304-ab12cd-123456')).toBeUndefined(); // no veth of ours has that name
    expect(namespaceVeth('cni-1234')).toBeUndefined();
    for (const other of ['keel-4194304-ab12cd', 'keel-x-ab12cd-3', 'keel-12-abc-3', 'mykeel-12-ab12cd-3', 'keel-12-ab12cd-3-extra', 'cni-1234']) {
      expect(namespaceOwner(other), other).toBeUndefined();
    }
    expect(bridgeOwner('kb-ab12cd', 'keel-77-ab12cd')).toBe(77);
    expect(bridgeOwner('kb-ab12cd', undefined)).toBeUndefined(); // no alias: not provably ours
    expect(bridgeOwner('kb-ab12cd', 'keel-77-zzzzzz')).toBeUndefined(); // alias of another run
    expect(bridgeOwner('docker0', 'keel-77-ab12cd')).toBeUndefined();
  });
});
