import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addressOfHost, allowsPrivate, nonPublicRangeOfHost, originKey, refusalOfHost, noPrivateNetworks,
} from './network-address.js';

test('every spelling of a non-public address is classified by the address it means', () => {
  const table: [string, string | undefined][] = [
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['2130706433', 'loopback'], ['0x7f.1', 'loopback'],
    ['127.1', 'loopback'], ['0177.0.0.1', 'loopback'], ['0x7f000001', 'loopback'], ['[::1]', 'loopback'], ['::1', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['[0:0:0:0:0:ffff:7f00:0001]', 'loopback'],
    ['[64:ff9b::127.0.0.1]', 'loopback'], ['[2002:7f00:1::]', 'loopback'],
    ['169.254.169.254', 'link-local'], ['0xa9fea9fe', 'link-local'], ['[fe80::1]', 'link-local'], ['fe80::1%eth0', 'link-local'],
    ['[::ffff:169.254.169.254]', 'link-local'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'], ['100.127.255.255', 'private'], ['[fc00::1]', 'private'], ['[fd12:3456::1]', 'private'],
    ['[::ffff:10.0.0.1]', 'private'], ['[64:ff9b::a00:1]', 'private'],
    ['0.0.0.0', 'unspecified'], ['0', 'unspecified'], ['[::]', 'unspecified'],
    ['224.0.0.1', 'multicast'], ['[ff02::1]', 'multicast'], ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'], ['192.0.2.1', 'reserved'], ['198.18.0.1', 'reserved'], ['[2001:db8::1]', 'reserved'],
    // public unicast, and names (their addresses are checked when resolved)
    ['8.8.8.8', undefined], ['172.32.0.1', undefined], ['100.128.0.1', undefined], ['169.255.0.1', undefined],
    ['[2606:4700::1111]', undefined], ['[::ffff:8.8.8.8]', undefined], ['[64:ff9b::808:808]', undefined],
    ['fcm.googleapis.com', undefined], ['localhost', undefined], ['push.example.net', undefined],
  ];
  for (const [host, want] of table) assert.equal(nonPublicRangeOfHost(host), want, host);
});

test('an IPv4 address means the same in decimal, hex, octal, dotted or short form, and inside IPv4-mapped IPv6', () => {
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (n) => {
    const bytes = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    const dotted = bytes.join('.');
    const want = nonPublicRangeOfHost(dotted);
    const spellings = [
      String(n), `0x${n.toString(16)}`, `0${n.toString(8)}`, bytes.map((b) => `0x${b.toString(16)}`).join('.'),
      `${bytes[0]}.${(n & 0xffffff)}`, `[::ffff:${dotted}]`,
      `[::ffff:${((bytes[0]! << 8) | bytes[1]!).toString(16)}:${((bytes[2]! << 8) | bytes[3]!).toString(16)}]`,
    ];
    for (const s of spellings) {
      assert.deepEqual(addressOfHost(s)?.slice(-4), bytes, s);
      assert.equal(nonPublicRangeOfHost(s), want, s);
    }
  }), { numRuns: 2000 });
});

test('the allowance lets exactly its origins (or everything) through, in any spelling of the host', () => {
  const sandbox = { all: false, origins: [originKey('127.0.0.1', 9401)] };
  assert.equal(allowsPrivate(sandbox, '127.0.0.1', 9401), true);
  assert.equal(allowsPrivate(sandbox, '2130706433', 9401), true, 'the same origin spelled otherwise');
  assert.equal(refusalOfHost(sandbox, '127.0.0.1', 9401), undefined);
  assert.match(refusalOfHost(sandbox, '127.0.0.1', 9402)!, /loopback/, 'another port of the same host');
  assert.match(refusalOfHost(noPrivateNetworks, '169.254.169.254', 80)!, /169\.254\.169\.254 is a link-local address/);
  assert.equal(refusalOfHost({ all: true, origins: [] }, '10.0.0.1', 25), undefined);
  assert.equal(refusalOfHost(noPrivateNetworks, '[::1]', 1), refusalOfHost(noPrivateNetworks, '[::1]', 65535), 'the words do not depend on the port');
});
