// The engine contract: what every engine (lib/engine.ts) must do, as one suite that each engine's
// test file runs against its own engine (Centrifuge and crossws test their brokers and adapters
// this way). The in-memory engine runs it in engine-memory.test.ts; an engine over Redis runs the
// same suite against a real Redis.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Engine, Presence, RoomEvent } from '../lib/engine.ts';
import type { ChatMessage } from '../lib/protocol.ts';
import { type Rule, RuleBook, type RuleChange, ruleId } from '../lib/rules.ts';

export interface EngineUnderTest {
  engine: Engine;
  /** Every event the engine delivered to its listener, with its room, in order. */
  events: Array<{ room: string; event: RoomEvent }>;
  /** Every change to the rules the engine told its rules listener, in order. */
  rules: RuleChange[][];
}

export interface EngineSettings {
  historySize: number;
  maxReplay: number;
  roomTtlMs: number;
  dedupeWindowMs: number;
  sessionTtlMs: number;
  maxKeptDirect: number;
}

/** Makes a fresh engine with its listener recording into `events`; closed by the suite. */
export type EngineFactory = (settings: EngineSettings) => Promise<EngineUnderTest>;

const SETTINGS: EngineSettings = { historySize: 5, maxReplay: 4, roomTtlMs: 60_000, dedupeWindowMs: 300, sessionTtlMs: 400, maxKeptDirect: 3 };

/** Waits until `events` holds one that matches, for engines that deliver asynchronously. */
async function heard(under: EngineUnderTest, matches: (entry: { room: string; event: RoomEvent }) => boolean): Promise<void> {
  for (let waited = 0; !under.events.some(matches); waited += 10) {
    assert.ok(waited < 3000, `no matching event within 3 s; heard ${JSON.stringify(under.events)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A presence snapshot with the joins, leaves and renames of `events` applied, as a client applies them. */
function applyPresence(names: Set<string>, events: Array<{ room: string; event: RoomEvent }>): Set<string> {
  const result = new Set(names);
  for (const { event } of events) {
    if (event.type === 'peer-joined') result.add(event.data);
    else if (event.type === 'peer-left') result.delete(event.data);
    else if (event.type === 'peer-renamed') {
      result.delete(event.data.from);
      result.add(event.data.to);
    }
  }
  return result;
}

const sameSet = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((name) => b.has(name));

let tokens = 0;
/** Joins `room` for a session (a fresh one unless `token` is given), under `name` if given. */
async function enter(engine: Engine, room: string, name?: string, token = `token-${++tokens}`): Promise<Presence> {
  const presence = await engine.join(room, { token, name });
  assert.ok(presence, `${name} could be taken`);
  return presence;
}

/** Runs the contract against the engines `create` makes. */
export function engineContract(name: string, create: EngineFactory): void {
  describe(`engine contract: ${name}`, () => {
    async function withEngine(run: (under: EngineUnderTest) => Promise<void>): Promise<void> {
      const under = await create(SETTINGS);
      try {
        await run(under);
      } finally {
        await under.engine.close();
      }
    }

    test('join gives names unique in the room and a snapshot with everyone, itself included', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const joined = [];
        for (let i = 0; i < 30; i++) joined.push(await enter(engine, 'lobby'));
        const names = joined.map((presence) => presence.name);
        assert.equal(new Set(names.map((n) => n.toLowerCase())).size, 30, 'unique, ignoring case');
        assert.deepEqual(new Set(joined.at(-1)!.peers), new Set(names));
        assert.deepEqual(new Set(await engine.peers('lobby')), new Set(names));
        assert.deepEqual(await engine.peers('dev'), [], 'rooms are separate');
        await heard(under, ({ room, event }) => room === 'lobby' && event.type === 'peer-joined' && event.data === names.at(-1));
        const announced = under.events.filter(({ event }) => event.type === 'peer-joined').map(({ event }) => event.data);
        assert.deepEqual(announced, names, 'each join announced once, in order');
      }));

    test('concurrent joins: each snapshot, with the events heard after its onEnter, ends at everyone', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const seen: Array<{ names: Set<string>; from: number }> = [];
        const onEnter = ({ peers }: Presence) => seen.push({ names: new Set(peers), from: under.events.length });
        const early = await Promise.all(Array.from({ length: 10 }, (_, i) => engine.join('storm', { token: `storm-${i}`, onEnter })));
        await Promise.all([...early.slice(0, 3).map((p) => engine.leave('storm', p!.name)), ...Array.from({ length: 10 }, (_, i) => engine.join('storm', { token: `late-${i}`, onEnter }))]);
        const everyone = new Set(await engine.peers('storm'));
        assert.equal(everyone.size, 17);
        await heard(under, () => seen.every(({ names, from }) => sameSet(applyPresence(names, under.events.slice(from)), everyone)));
      }));

    test('leave announces peer-left once and frees the name; rooms() counts peers', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const a = await enter(engine, 'lobby');
        const b = await enter(engine, 'lobby');
        await enter(engine, 'dev');
        assert.deepEqual(await engine.rooms(), [
          { room: 'dev', peers: 1 },
          { room: 'lobby', peers: 2 },
        ]);
        await engine.leave('lobby', a.name);
        await engine.leave('lobby', a.name);
        await heard(under, ({ event }) => event.type === 'peer-left');
        assert.deepEqual(await engine.peers('lobby'), [b.name]);
        assert.equal(under.events.filter(({ event }) => event.type === 'peer-left').length, 1, 'leaving twice is harmless');
        assert.deepEqual((await engine.rooms()).find((r) => r.room === 'lobby'), { room: 'lobby', peers: 1 });
        // What an engine keeps besides rooms (here a remembered message id that looks like a key) is no room.
        await engine.publish('dev', { sender: 'a', message: 'hi', ts: 1 }, { token: 'token', id: 'x:seq' });
        assert.deepEqual((await engine.rooms()).map((r) => r.room), ['dev', 'lobby']);
      }));

    test('rename takes a free name, refuses a taken one ignoring case, and announces only a real change', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const a = await enter(engine, 'lobby', undefined, 'token-a');
        const b = await enter(engine, 'lobby', undefined, 'token-b');
        assert.equal(await engine.rename('lobby', a.name, 'Ada', 'token-a'), true);
        assert.equal(await engine.rename('lobby', b.name, 'ADA', 'token-b'), false, 'taken, ignoring case');
        assert.equal(await engine.rename('lobby', 'Ada', 'ada', 'token-a'), true, 'a peer may change the case of its own name');
        await heard(under, ({ event }) => event.type === 'peer-renamed' && event.data.to === 'ada');
        const renames = under.events.filter(({ event }) => event.type === 'peer-renamed').map(({ event }) => event.data);
        assert.deepEqual(renames, [
          { from: a.name, to: 'Ada' },
          { from: 'Ada', to: 'ada' },
        ]);
        assert.deepEqual(new Set(await engine.peers('lobby')), new Set(['ada', b.name]));
      }));

    test('rename refuses a look-alike of a name online, and a direct message to a look-alike reaches the name', () =>
      withEngine(async (under) => {
        const { engine } = under;
        await enter(engine, 'lobby', 'orchid-eagle', 'token-owner');
        const other = await enter(engine, 'lobby', undefined, 'token-other');
        for (const lookAlike of ['\u043erchid-eagle', 'ORCHID-EAGLE', '0rchid-eag1e', '\uff4f\uff52\uff43\uff48\uff49\uff44-eagle']) {
          assert.equal(await engine.rename('lobby', other.name, lookAlike, 'token-other'), false, lookAlike);
        }
        assert.equal(await engine.direct('lobby', { from: other.name, to: '\u043erchid-eagle', message: 'psst', ts: 1 }), 'live');
        await heard(under, ({ event }) => event.type === 'direct-message');
        assert.deepEqual(under.events.find(({ event }) => event.type === 'direct-message')?.event.data, { from: other.name, to: 'orchid-eagle', message: 'psst', ts: 1 });
        assert.equal(await engine.rename('lobby', 'orchid-eagle', '0RCHID-EAGLE', 'token-owner'), true, 'a look-alike of its own name is its own');
        assert.deepEqual(new Set(await engine.peers('lobby')), new Set(['0RCHID-EAGLE', other.name]));
      }));

    test('publish numbers each room from 1 without gaps and delivers in order', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const sent: ChatMessage[] = [];
        for (let i = 1; i <= 3; i++) sent.push(await engine.publish('lobby', { sender: 'a', message: `m${i}`, ts: i }, { token: 'a' }));
        const other = await engine.publish('dev', { sender: 'b', message: 'elsewhere', ts: 9 }, { token: 'b' });
        assert.deepEqual(sent.map((m) => m.seq), [1, 2, 3]);
        assert.equal(other.seq, 1, 'seq counts per room');
        assert.ok(sent.every((m) => m.epoch === sent[0]!.epoch && m.epoch.length > 0));
        await heard(under, ({ room, event }) => room === 'lobby' && event.type === 'message' && event.data.seq === 3);
        const delivered = under.events.filter(({ room, event }) => room === 'lobby' && event.type === 'message').map(({ event }) => event.data);
        assert.deepEqual(delivered, sent);
      }));

    test('a dedupe key published again within the window gets the first seq and is delivered once; after it, it is new', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const first = await engine.publish('lobby', { sender: 'a', message: 'once', ts: Date.now() }, { token: 'token', id: 'id-1' });
        const retry = await engine.publish('lobby', { sender: 'a', message: 'once', ts: Date.now() }, { token: 'token', id: 'id-1' });
        const other = await engine.publish('lobby', { sender: 'b', message: 'once', ts: Date.now() }, { token: 'other-token', id: 'id-1' });
        assert.equal(retry.seq, first.seq, 'the retry is answered with the first seq');
        assert.equal(other.seq, first.seq + 1, 'keys are per session');
        await heard(under, ({ event }) => event.type === 'message' && event.data.seq === other.seq);
        assert.equal(under.events.filter(({ event }) => event.type === 'message').length, 2, 'the retry was not delivered');
        await new Promise((resolve) => setTimeout(resolve, SETTINGS.dedupeWindowMs + 100));
        const late = await engine.publish('lobby', { sender: 'a', message: 'once', ts: Date.now() }, { token: 'token', id: 'id-1' });
        assert.equal(late.seq, other.seq + 1, 'after the window the same key counts as new');
      }));

    test('replay: what came after a known position, else the newest with the reason', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const sent: ChatMessage[] = [];
        for (let i = 1; i <= 8; i++) sent.push(await engine.publish('lobby', { sender: 'a', message: `m${i}`, ts: i }, { token: 'a' }));
        const { epoch } = sent[0]!;
        const fresh = await engine.replay('lobby', undefined, 2);
        assert.deepEqual(fresh, { epoch, seq: 8, messages: sent.slice(-2) });
        const resumed = await engine.replay('lobby', { epoch, seq: 6 }, 2);
        assert.deepEqual(resumed, { epoch, seq: 8, recovered: true, messages: sent.slice(6) });
        assert.deepEqual((await engine.replay('lobby', { epoch, seq: 1 }, 1)).reason, 'too-old', `only the last ${SETTINGS.historySize} are kept`);
        assert.deepEqual((await engine.replay('lobby', { epoch, seq: 3 }, 1)).reason, 'too-old', `a resume replays at most ${SETTINGS.maxReplay}`);
        assert.deepEqual((await engine.replay('lobby', { epoch, seq: 4 }, 1)).messages, sent.slice(4), 'exactly maxReplay is fine');
        assert.deepEqual((await engine.replay('lobby', { epoch: 'other', seq: 8 }, 1)).reason, 'unknown-epoch');
        assert.deepEqual((await engine.replay('lobby', { epoch, seq: 9 }, 1)).reason, 'future');
        assert.deepEqual(await engine.replay('empty', undefined, 5), { epoch, seq: 0, messages: [] });
      }));

    test('history pages back through what is kept, oldest first, and says when there is more', () =>
      withEngine(async ({ engine }) => {
        const sent: ChatMessage[] = [];
        for (let i = 1; i <= 8; i++) sent.push(await engine.publish('lobby', { sender: 'a', message: `m${i}`, ts: i }, { token: 'a' }));
        const seqs = async (before: number, limit: number) => {
          const page = await engine.history('lobby', before, limit);
          return { seqs: page.messages.map((m) => m.seq), more: page.more };
        };
        assert.deepEqual(await seqs(100, 2), { seqs: [7, 8], more: true }, 'a before past the newest pages from the newest');
        assert.deepEqual(await seqs(7, 2), { seqs: [5, 6], more: true });
        assert.deepEqual(await seqs(6, 10), { seqs: [4, 5], more: false }, `only the last ${SETTINGS.historySize} are kept`);
        assert.deepEqual(await seqs(4, 10), { seqs: [], more: false });
        assert.deepEqual((await engine.history('lobby', 9, 1)).messages, sent.slice(-1), 'the messages as they were sent');
        assert.deepEqual(await engine.history('empty', 1, 10), { messages: [], more: false });
      }));

    test('join under a name the session owns enters presence with it, announced once', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const first = await enter(engine, 'lobby', 'Ada', 'token-ada');
        const again = await enter(engine, 'lobby', 'Ada', 'token-ada');
        assert.equal(first.name, 'Ada');
        assert.deepEqual(again.peers, ['Ada']);
        await heard(under, ({ event }) => event.type === 'peer-joined');
        assert.equal(under.events.filter(({ event }) => event.type === 'peer-joined').length, 1);
      }));

    test('a direct message to a peer online reaches the listener with its name as held; to nobody, unknown', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const a = await enter(engine, 'lobby');
        assert.equal(await engine.direct('lobby', { from: 'x', to: a.name.toUpperCase(), message: 'psst', ts: 1 }), 'live');
        await heard(under, ({ event }) => event.type === 'direct-message');
        assert.deepEqual(under.events.find(({ event }) => event.type === 'direct-message')?.event.data, { from: 'x', to: a.name, message: 'psst', ts: 1 });
        assert.equal(await engine.direct('lobby', { from: 'x', to: 'nobody', message: 'psst', ts: 1 }), 'unknown');
      }));

    test('a fresh engine is healthy', () => withEngine(async ({ engine }) => assert.equal(engine.isHealthy(), true)));

    test('signal reaches the listener and is not kept', () =>
      withEngine(async (under) => {
        const { engine } = under;
        await engine.signal('lobby', { type: 'typing', data: { name: 'a', typing: true } });
        await heard(under, ({ room, event }) => room === 'lobby' && event.type === 'typing' && event.data.typing);
        assert.equal((await engine.replay('lobby', undefined, 10)).messages.length, 0);
      }));

    test("a room's topic is kept and heard; a quit's reason is heard and not kept", () =>
      withEngine(async (under) => {
        const { engine } = under;
        await enter(engine, 'lobby');
        assert.equal(await engine.topic('lobby'), undefined);
        const topic = { topic: 'release on Friday', by: 'ada', ts: 5 };
        await engine.setTopic('lobby', topic);
        await heard(under, ({ room, event }) => room === 'lobby' && event.type === 'topic' && event.data.topic === topic.topic);
        assert.deepEqual(await engine.topic('lobby'), topic);
        assert.equal(await engine.topic('dev'), undefined, 'per room');
        await engine.signal('lobby', { type: 'peer-quit', data: { name: 'ada', reason: 'lunch' } });
        await heard(under, ({ event }) => event.type === 'peer-quit' && event.data.reason === 'lunch');
        assert.equal((await engine.replay('lobby', undefined, 10)).messages.length, 0);
      }));

    test('deleteMessage leaves a tombstone in history, replay and pages, tells the room once, and refuses an unknown seq', () =>
      withEngine(async (under) => {
        const { engine } = under;
        await enter(engine, 'lobby');
        for (const message of ['one', 'secret', 'three']) await engine.publish('lobby', { sender: 'ada', message, ts: 7 }, { token: 'token-ada' });
        const tombstone = await engine.deleteMessage('lobby', 2, 'api');
        assert.ok(tombstone, 'seq 2 is kept');
        assert.deepEqual({ ...tombstone, epoch: '' }, { sender: 'ada', message: '', ts: 7, seq: 2, epoch: '', deleted: true, deletedBy: 'api' });
        await heard(under, ({ room, event }) => room === 'lobby' && event.type === 'message-deleted');
        const deleted = under.events.filter(({ event }) => event.type === 'message-deleted').map(({ event }) => event.data);
        assert.deepEqual(deleted, [{ seq: 2, sender: 'ada', by: 'api' }]);
        const texts = (messages: ChatMessage[]) => messages.map((m) => (m.deleted ? `(deleted by ${m.deletedBy})` : m.message));
        assert.deepEqual(texts((await engine.replay('lobby', undefined, 10)).messages), ['one', '(deleted by api)', 'three']);
        assert.deepEqual(texts((await engine.history('lobby', 4, 10)).messages), ['one', '(deleted by api)', 'three']);
        const { epoch } = await engine.replay('lobby', undefined, 0);
        assert.deepEqual(texts((await engine.replay('lobby', { epoch, seq: 1 }, 10)).messages), ['(deleted by api)', 'three'], 'a resume replays the tombstone');
        assert.ok(!JSON.stringify(await engine.history('lobby', 4, 10)).includes('secret'), 'the text is gone');
        assert.equal(await engine.deleteMessage('lobby', 9, 'api'), undefined, 'a seq not kept');
        assert.equal((await engine.deleteMessage('lobby', 2, 'someone'))?.deletedBy, 'api', 'deleting again keeps the first tombstone');
        assert.equal((await engine.publish('lobby', { sender: 'ada', message: 'four', ts: 8 }, { token: 'token-ada' })).seq, 4, 'numbering goes on');
        await heard(under, ({ event }) => event.type === 'message' && event.data.seq === 4);
        assert.equal(under.events.filter(({ event }) => event.type === 'message-deleted').length, 1, 'told once');
        assert.ok(await engine.deleteMessage('lobby', 1, 'api'), 'the oldest kept');
        const page = await engine.history('lobby', 5, 10);
        assert.deepEqual([page.messages.map((m) => m.seq), page.more], [[1, 2, 3, 4], false], 'a tombstone keeps its place at the start of history too');
        assert.deepEqual(texts((await engine.replay('lobby', undefined, 2)).messages), ['three', 'four']);
      }));

    test('rules: the listener is given them all at start, then each change once it is kept; the secret stays the same', () =>
      withEngine(async (under) => {
        const { engine } = under;
        assert.deepEqual(under.rules, [[{ reset: [] }]], 'a fresh engine has no rules');
        const ban: Rule = { kind: 'ban', key: 'ip:1.2.3.4', name: 'Spam Bot', by: 'Mod', reason: 'spam', until: null };
        const slow: Rule = { kind: 'slow', room: 'lobby', seconds: 5, by: 'Mod' };
        await engine.changeRules([{ set: ban }, { set: slow }]);
        assert.deepEqual(under.rules.at(-1), [{ set: ban }, { set: slow }], 'told before changeRules resolves');
        await engine.changeRules([{ lift: ruleId(ban) }]);
        assert.deepEqual(under.rules.at(-1), [{ lift: ruleId(ban) }]);
        const book = new RuleBook(Date.now);
        book.apply(under.rules.flat());
        assert.equal(book.banOf(['ip:1.2.3.4']), undefined);
        assert.equal(book.slowSeconds('lobby'), 5);
        const secret = await engine.secret();
        assert.ok(secret.length >= 32);
        assert.equal(await engine.secret(), secret);
      }));

    test('kick tells the room who was kicked, by whom and why, for a name online only; isNameTaken sees names online', () =>
      withEngine(async (under) => {
        const { engine } = under;
        const { name } = await enter(engine, 'lobby');
        assert.equal(await engine.isNameTaken('lobby', name.toUpperCase()), true, 'online, by nameKey');
        assert.equal(await engine.isNameTaken('lobby', 'ci-bot'), false);
        assert.equal(await engine.kick('lobby', { name: name.toUpperCase(), by: 'api', reason: 'spam' }), name, 'found by nameKey');
        await heard(under, ({ room, event }) => room === 'lobby' && event.type === 'peer-kicked');
        assert.deepEqual(under.events.find(({ event }) => event.type === 'peer-kicked')?.event.data, { name, by: 'api', reason: 'spam' });
        assert.equal(await engine.kick('lobby', { name: 'nobody', by: 'api', reason: '' }), undefined);
        assert.equal(await engine.kick('dev', { name, by: 'api', reason: '' }), undefined, 'per room');
      }));

    describe('sessions kept while away', () => {
      /** A peer whose session `token` was kept and whose connection is gone: its name, owned while away. */
      async function away(engine: Engine, token: string): Promise<string> {
        const { name } = await enter(engine, 'lobby', undefined, token);
        await engine.registerSession(token, 'lobby', name);
        await engine.leave('lobby', name);
        return name;
      }

      test('a name a session owns is not given out, nor taken by a rename, while it is away; after its TTL it is free', () =>
        withEngine(async (under) => {
          const { engine } = under;
          const owned = await away(engine, 'token-owner');
          assert.equal(await engine.findSession('token-owner', 'lobby'), owned);
          assert.equal(await engine.findSession('token-owner', 'dev'), undefined, 'a session is good in its own room only');
          const other = await enter(engine, 'lobby', undefined, 'token-other');
          assert.equal(await engine.rename('lobby', other.name, owned.toUpperCase(), 'token-other'), false, 'owned while away, ignoring case');
          await new Promise((resolve) => setTimeout(resolve, SETTINGS.sessionTtlMs + 100));
          assert.equal(await engine.findSession('token-owner', 'lobby'), undefined, 'expired');
          assert.equal(await engine.rename('lobby', other.name, owned, 'token-other'), true, 'free after the TTL');
        }));

      test('isNameTaken sees a name a session owns while it is away', () =>
        withEngine(async (under) => {
          const name = await away(under.engine, 'token-owned');
          assert.equal(await under.engine.isNameTaken('lobby', name), true);
        }));

      test('a name owned while away blocks its look-alikes too, and a direct message to one is kept for the owner', () =>
        withEngine(async (under) => {
          const { engine } = under;
          const owner = await enter(engine, 'lobby', undefined, 'token-owner');
          assert.equal(await engine.rename('lobby', owner.name, 'orchid-eagle', 'token-owner'), true);
          await engine.registerSession('token-owner', 'lobby', 'orchid-eagle');
          await engine.leave('lobby', 'orchid-eagle');
          const other = await enter(engine, 'lobby', undefined, 'token-other');
          for (const lookAlike of ['\u043erchid-eagle', 'Orchid-Eagle', 'orchid-eagIe']) {
            assert.equal(await engine.rename('lobby', other.name, lookAlike, 'token-other'), false, lookAlike);
          }
          assert.equal(await engine.direct('lobby', { from: other.name, to: '\u043erchid-eagle', message: 'later', ts: 1 }), 'stored');
          assert.deepEqual((await engine.missed('token-owner', 'lobby')).map((m) => [m.to, m.message]), [['orchid-eagle', 'later']]);
        }));

      test('a direct message to a session away is kept, marked stored for the sender, and handed out once, in order', () =>
        withEngine(async (under) => {
          const { engine } = under;
          const name = await away(engine, 'token-away');
          for (const message of ['one', 'two']) assert.equal(await engine.direct('lobby', { from: 'x', to: name, message, ts: 1 }), 'stored');
          await heard(under, ({ event }) => event.type === 'direct-message' && event.data.message === 'two');
          assert.ok(under.events.filter(({ event }) => event.type === 'direct-message').every(({ event }) => event.type === 'direct-message' && event.data.stored === true));
          assert.deepEqual((await engine.missed('token-away', 'lobby')).map((m) => m.message), ['one', 'two']);
          assert.deepEqual((await engine.missed('token-away', 'lobby')).length, 2, 'kept until they are handed out');
          await engine.direct('lobby', { from: 'x', to: name, message: 'three', ts: 1 });
          await engine.dropMissed('token-away', 'lobby', 2);
          assert.deepEqual((await engine.missed('token-away', 'lobby')).map((m) => m.message), ['three'], 'a later one stays');
        }));

      test('a session away keeps at most --max-kept-direct direct messages; past it, one is refused and nothing is kept', () =>
        withEngine(async (under) => {
          const { engine } = under;
          const name = await away(engine, 'token-full');
          for (const message of ['one', 'two', 'three']) assert.equal(await engine.direct('lobby', { from: 'x', to: name, message, ts: 1 }), 'stored');
          assert.equal(await engine.direct('lobby', { from: 'x', to: name, message: 'four', ts: 1 }), 'full');
          assert.deepEqual((await engine.missed('token-full', 'lobby')).map((m) => m.message), ['one', 'two', 'three']);
          await engine.dropMissed('token-full', 'lobby', 3);
          assert.equal(await engine.direct('lobby', { from: 'x', to: name, message: 'five', ts: 1 }), 'stored', 'room again once they are handed out');
        }));
    });
  });
}
