// A corpus of bad inputs against a real server process: envelopes over `ws`, raw frames and raw
// handshakes over `net`. After each one the process is alive, a fresh client chats normally, and a
// bystander who was there all along has heard nothing from the offender.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { connect, spawnServer } from './helpers.ts';
import { clientFrame, OPCODE, openRawPeer, rawRequest, upgradeRequest } from './raw-frames.ts';

const { child, port } = await spawnServer(['--rate-burst', '1000000', '--rate-per-second', '1000000']);
const URL = `ws://127.0.0.1:${port}/ws`;

const envelope = (data: string) => `{"type":"message","data":${data}}`;
const deep = (depth: number) => `{"type":"message","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;

/** Text frames a client library would happily send; each must be answered with this error code. */
const ENVELOPES: Array<[string, string]> = [
  ['{', 'bad-json'],
  ['{"type":"message","data":"x"', 'bad-json'],
  ['{"type":"message","data":"x"}}', 'bad-json'],
  ["{'type':'message','data':'x'}", 'bad-json'],
  [envelope('"\\x"'), 'bad-json'],
  [envelope('NaN'), 'bad-json'],
  [envelope('Infinity'), 'bad-json'],
  [envelope('undefined'), 'bad-json'],
  [`${envelope('"ok"')}\u0000`, 'bad-json'],
  ['\ufeff{"type":"message","data":"bom"}', 'bad-json'],
  ['   {   ', 'bad-json'],
  [`{"type":"message","data":${'['.repeat(30_000)}`, 'bad-json'],
  ['{"type":"ping","data":{"x":', 'bad-json'],
  ['{}', 'bad-envelope'],
  ['{"type":null}', 'bad-envelope'],
  ['{"type":true,"data":"x"}', 'bad-envelope'],
  ['{"type":["message"],"data":"x"}', 'bad-envelope'],
  ['{"type":{"toString":"message"},"data":"x"}', 'bad-envelope'],
  ['{"__proto__":{"type":"message"},"data":"x"}', 'bad-envelope'],
  ['{"constructor":{"prototype":{"type":"message"}},"data":"x"}', 'bad-envelope'],
  [`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, 'bad-envelope'],
  ['{"type":"__proto__","data":"x"}', 'unknown-type'],
  ['{"type":"constructor","data":"x"}', 'unknown-type'],
  ['{"type":"toString","data":"x"}', 'unknown-type'],
  ['{"type":"hasOwnProperty","data":"x"}', 'unknown-type'],
  ['{"type":"MESSAGE","data":"x"}', 'unknown-type'],
  ['{"type":" message","data":"x"}', 'unknown-type'],
  ['{"type":"","data":"x"}', 'unknown-type'],
  [`{"type":"${'x'.repeat(20_000)}","data":"x"}`, 'unknown-type'],
  ['{"type":"message","data":"x","type":"shout"}', 'unknown-type'],
  [envelope('1e999'), 'bad-message'],
  [envelope('123456789012345678901234567890'), 'bad-message'],
  [envelope('-0'), 'bad-message'],
  [envelope('null'), 'bad-message'],
  [envelope('true'), 'bad-message'],
  [envelope('[]'), 'bad-message'],
  [envelope('["hello"]'), 'bad-message'],
  [envelope('{"__proto__":{"polluted":1}}'), 'bad-message'],
  [deep(20_000), 'bad-message'],
  [envelope('""'), 'bad-message'],
  [envelope('" \\t\\n\\r "'), 'bad-message'],
  [envelope('"\\u0000"'), 'bad-message'],
  [envelope('"hi\\u0007there"'), 'bad-message'],
  [envelope('"\\u001b[2J\\u001b[Hscreen cleared"'), 'bad-message'],
  [envelope('"a\\u0085b"'), 'bad-message'],
  [envelope('"\\u202Eevil"'), 'bad-message'],
  [envelope('"\\u2066isolate"'), 'bad-message'],
  [envelope('"\\ud800"'), 'bad-message'],
  [envelope('"\\udc00x"'), 'bad-message'],
  [envelope(JSON.stringify('x'.repeat(2001))), 'bad-message'],
  ['\u0007ding', 'bad-message'],
  ['\u001b]0;new terminal title\u0007', 'bad-message'],
  ['\u0000', 'bad-message'],
];

/** Bytes no client library sends, each with what the server must answer. */
const RAW: Array<[string, () => Buffer, number]> = [
  ['unmasked text frame', () => clientFrame(OPCODE.text, 'hi', { mask: false }), 1002],
  ['RSV1 without compression', () => clientFrame(OPCODE.text, 'hi', { rsv: 4 }), 1002],
  ['RSV2', () => clientFrame(OPCODE.text, 'hi', { rsv: 2 }), 1002],
  ['RSV3', () => clientFrame(OPCODE.text, 'hi', { rsv: 1 }), 1002],
  ['reserved data opcode 0x3', () => clientFrame(0x3, 'hi'), 1002],
  ['reserved control opcode 0xB', () => clientFrame(0xb, 'hi'), 1002],
  ['ping over 125 bytes', () => clientFrame(OPCODE.ping, 'x'.repeat(126)), 1002],
  ['fragmented ping', () => clientFrame(OPCODE.ping, 'x', { fin: false }), 1002],
  ['continuation with nothing to continue', () => clientFrame(OPCODE.continuation, 'x'), 1002],
  ['new text frame inside a fragmented message', () => Buffer.concat([clientFrame(OPCODE.text, 'a', { fin: false }), clientFrame(OPCODE.text, 'b')]), 1002],
  ['invalid UTF-8', () => clientFrame(OPCODE.text, Buffer.from([0x68, 0xff, 0x69])), 1007],
  ['overlong UTF-8', () => clientFrame(OPCODE.text, Buffer.from([0xc0, 0xaf])), 1007],
  ['UTF-8 encoded surrogate', () => clientFrame(OPCODE.text, Buffer.from([0xed, 0xa0, 0x80])), 1007],
  ['invalid UTF-8 across fragments', () => Buffer.concat([clientFrame(OPCODE.text, Buffer.from([0xe2, 0x82]), { fin: false }), clientFrame(OPCODE.continuation, Buffer.from([0x28]))]), 1007],
  ['text frame over 64 KiB', () => clientFrame(OPCODE.text, 'x'.repeat(70_000)), 1009],
  ['length field of 2^53', () => Buffer.from([0x81, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), 1009],
  ['fragment flood past 64 KiB', () => Buffer.concat([clientFrame(OPCODE.text, 'x'.repeat(100), { fin: false }), ...Array.from({ length: 1000 }, () => clientFrame(OPCODE.continuation, 'x'.repeat(100), { fin: false }))]), 1009],
  ['binary frame', () => clientFrame(OPCODE.binary, Buffer.from([1, 2, 3])), 1003],
  ['close with code 999', () => clientFrame(OPCODE.close, Buffer.from([0x03, 0xe7])), 1002],
  ['close with a 1-byte body', () => clientFrame(OPCODE.close, Buffer.from([0x03])), 1002],
  ['close with an invalid UTF-8 reason', () => clientFrame(OPCODE.close, Buffer.from([0x03, 0xe8, 0xff])), 1007],
];

/** Handshakes that must be refused with an HTTP status and no WebSocket. */
const HANDSHAKES: Array<[string, string, RegExp]> = [
  ['not HTTP at all', 'HELLO THERE\r\n\r\n', /^HTTP\/1\.1 400 /],
  ['WebSocket version 99', upgradeRequest().replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 99'), /^HTTP\/1\.1 400 /],
  ['no Sec-WebSocket-Key', upgradeRequest().replace(/Sec-WebSocket-Key: [^\r]+\r\n/, ''), /^HTTP\/1\.1 400 /],
  ['a malformed Sec-WebSocket-Key', upgradeRequest().replace(/Sec-WebSocket-Key: [^\r]+/, 'Sec-WebSocket-Key: short'), /^HTTP\/1\.1 400 /],
  ['POST upgrade', upgradeRequest().replace('GET', 'POST'), /^HTTP\/1\.1 (400|405) /],
  ['upgrade to another protocol', upgradeRequest().replace('Upgrade: websocket', 'Upgrade: h2c'), /^HTTP\/1\.1 400 /],
  ['upgrade on a path with traversal', upgradeRequest('/ws/../ws'), /^HTTP\/1\.1 404 /],
  ['cross-site origin', upgradeRequest('/ws', 'Origin: http://evil.test\r\n'), /^HTTP\/1\.1 403 /],
];

test(`the server survives ${ENVELOPES.length + RAW.length + HANDSHAKES.length} hostile inputs and keeps serving everyone`, async () => {
  const bystander = await connect(URL);
  const { data: bystanderName } = await bystander.nextOfType('name-generated');
  let checks = 0;

  /** A fresh client joins, chats, and leaves; the bystander hears that message and nothing else. */
  async function assertServing(after: string): Promise<void> {
    assert.equal(child.exitCode, null, `the server process died after: ${after}`);
    const text = `check ${++checks}`;
    const fresh = await connect(URL);
    await fresh.nextOfType('synced');
    fresh.send(text);
    assert.equal((await fresh.nextOfType('message')).data.message, text, after);
    const heard = await bystander.nextOfType('message');
    assert.equal(heard.data.message, text, `the bystander heard only well-behaved messages (after: ${after})`);
    fresh.ws.close();
  }

  for (const [frame, code] of ENVELOPES) {
    const offender = await connect(URL);
    offender.send(frame);
    const error = await offender.nextOfType('error');
    const label = JSON.stringify(frame.slice(0, 60));
    assert.equal(error.data.code, code, label);
    assert.ok(error.data.message.length < 300, `the error message stays short for ${label}`);
    assert.equal(offender.ws.readyState, WebSocket.OPEN, `the connection stays open after ${label}`);
    offender.ws.close();
    await assertServing(label);
  }

  for (const [label, bytes, code] of RAW) {
    const offender = await openRawPeer(port);
    offender.socket.write(bytes());
    assert.equal(await offender.closeCode(), code, label);
    offender.socket.destroy();
    await assertServing(label);
  }

  for (const [label, request, status] of HANDSHAKES) {
    const answer = await rawRequest(port, request);
    assert.match(answer, status, label);
    assert.doesNotMatch(answer, /101 Switching/, label);
    await assertServing(label);
  }

  const tried = ENVELOPES.length + RAW.length + HANDSHAKES.length;
  console.log(`hostile inputs tried: ${tried} (${ENVELOPES.length} envelopes, ${RAW.length} raw frames, ${HANDSHAKES.length} handshakes)`);
  assert.ok(tried >= 60);
  assert.equal(bystander.ws.readyState, WebSocket.OPEN);
  assert.ok(bystanderName);
});
