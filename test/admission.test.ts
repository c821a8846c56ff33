import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission, type AdmissionLimits, addressKey, clientAddress } from '../lib/admission.ts';

const LIMITS: AdmissionLimits = {
  maxConnections: 3,
  maxConnectionsPerIp: 2,
  apiKeyFailuresPerMinute: 2,
  requestsPerSecond: 1,
  requestBurst: 2,
  eventsPerSecond: 10,
  eventBurst: 3,
  roomsPerMinute: 2,
  guessesPerMinute: 2,
  pasteQueueBytesPerIp: 100,
  maxPasteQueueBytes: 150,
  replaysPerMinute: 1,
  maxAddresses: 100,
};

test('an IPv4 address is its own budget, an IPv6 address counts by its /64, a mapped IPv4 address as IPv4', () => {
  assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
  assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0DB8:0001:0002::9'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.notEqual(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'));
});

test('X-Forwarded-For is read only behind a trusted proxy, and only its last, proxy-written address', () => {
  assert.equal(clientAddress('10.0.0.1', '198.51.100.9', false), '10.0.0.1');
  assert.equal(clientAddress('10.0.0.1', '1.2.3.4, 198.51.100.9', true), '198.51.100.9', 'the client can forge the first entries, not the last');
  assert.equal(clientAddress('10.0.0.1', 'not-an-address', true), '10.0.0.1');
  assert.equal(clientAddress('10.0.0.1', undefined, true), '10.0.0.1');
});

test('sockets are capped per address and in total, and a close frees a slot', () => {
  const admission = new Admission(LIMITS);
  const open = (key: string) => admission.openSocket() && (admission.openFrom(key) || (admission.closeSocket(), false));
  assert.equal(open('a'), true);
  assert.equal(open('a'), true);
  assert.equal(open('a'), false, 'per-address cap');
  assert.equal(open('b'), true);
  assert.equal(open('c'), false, 'total cap');
  admission.closeSocket();
  admission.closeFrom('a');
  assert.equal(open('c'), true);
  assert.equal(admission.total, 3);
  assert.equal(admission.socketsFrom('a'), 1);
});

test('each budget is spent per address, whatever connection spends it, and earned back with time', () => {
  let now = 0;
  const admission = new Admission(LIMITS, () => now);
  assert.deepEqual([admission.takeEvent('a'), admission.takeEvent('a'), admission.takeEvent('a')], [0, 0, 0]);
  assert.equal(admission.takeEvent('a'), 100, 'the burst is spent: a token in 100 ms at 10/s');
  assert.equal(admission.takeEvent('b'), 0, 'another address has its own');
  now += 100;
  assert.equal(admission.takeEvent('a'), 0);
  assert.equal(admission.takeRoom('a'), 0);
  assert.equal(admission.takeRoom('a'), 0);
  assert.equal(admission.takeRoom('a'), 30_000, 'two rooms a minute: the next in 30 s');
  assert.equal(admission.takeReplay('a'), 0);
  assert.equal(admission.takeReplay('a'), 60_000);
  assert.equal(admission.takeRequest('a'), 0);
  assert.equal(admission.takeRequest('a'), 0);
  assert.equal(admission.takeRequest('a'), 1000);
});

test('the table of addresses stays bounded, forgetting the longest idle one that holds no socket', () => {
  const admission = new Admission({ ...LIMITS, maxAddresses: 3 });
  admission.openFrom('holder');
  for (let i = 0; i < 1000; i++) admission.takeRequest(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(admission.addresses, 3);
  assert.equal(admission.socketsFrom('holder'), 1, 'an address with a socket open is kept');
});

test("waiting events are bounded per address and in all, and released bytes count again", () => {
  const admission = new Admission(LIMITS, () => 0);
  assert.ok(admission.holdWaiting('1.1.1.1', 60));
  assert.ok(!admission.holdWaiting('1.1.1.1', 50), 'the address is over its 100');
  assert.ok(admission.holdWaiting('2.2.2.2', 80));
  assert.ok(!admission.holdWaiting('3.3.3.3', 20), 'the total is over its 150');
  admission.releaseWaiting('1.1.1.1', 60);
  assert.ok(admission.holdWaiting('3.3.3.3', 20));
  assert.ok(admission.holdWaiting('1.1.1.1', 50));
});
