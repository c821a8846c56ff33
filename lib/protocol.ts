// The JSON event envelope: parsing what clients send (untrusted text in, a typed event or a named
// error out) and encoding what the server sends. No sockets here.

import type { ProtocolError } from './errors.ts';
import type { Position, ResumeFailure } from './history.ts';
import { findNameProblem, isNameShaped } from './names.ts';
import type { DirectMessage } from './store.ts';

/** A chat message as every peer of the room receives it. */
export interface ChatMessage {
  sender: string;
  message: string;
  /** Milliseconds since the epoch, stamped by the server when it accepted the message. */
  ts: number;
  /** Position in the room: one more than the room's previous message. */
  seq: number;
  /** The server process's random id; a seq means something only with its epoch. */
  epoch: string;
  /** An action (`/me waves`): shown as `* sender waves`. */
  action?: true;
  /** A tombstone: the message was deleted (see Engine.deleteMessage); `message` is empty. */
  deleted?: true;
  /** Who deleted it, with `deleted`. */
  deletedBy?: string;
}

/** A message deleted from a room's history: its seq, who had sent it, and who deleted it. */
export interface MessageDeleted {
  seq: number;
  sender: string;
  by: string;
}

/** A name disconnected from a room (every connection of it), by whom and why. */
export interface PeerKicked {
  name: string;
  by: string;
  reason: string;
}

/** What a moderator did that the room is told as a line (kicks, deletes and topics have events of their own). */
export interface Moderated {
  action: 'ban' | 'unban' | 'mute' | 'unmute' | 'slow' | 'private' | 'public';
  by: string;
  /** Whom (not with `slow`, `private` and `public`). */
  name?: string;
  reason?: string;
  /** With `ban` and `mute`: until when, in ms since the epoch; null for as long as nobody lifts it. */
  until?: number | null;
  /** With `slow`: seconds between two messages of one person; 0 is off. */
  seconds?: number;
}

/**
 * The answer to `invite`: a private room's signed code, good until `expiresAt` (ms since the epoch),
 * and the page's link with it; for a public room, no code and the room's plain link.
 */
export interface Invitation {
  room: string;
  code: string | null;
  expiresAt: number | null;
  url: string;
}

/** A room as `list` and `GET /rooms` show it; `private` only in `list`, to a member. */
export interface ListedRoom {
  room: string;
  peers: number;
  private?: true;
}

/** A room's topic; an empty `topic` is none (it was cleared). */
export interface Topic {
  topic: string;
  /** Who set it, and when (ms since the epoch). */
  by: string;
  ts: number;
}

/** Events the server sends. Room events are fanned out; the others go to one connection. */
export type ServerEvent =
  | { type: 'name-generated'; data: string }
  | { type: 'update-peers'; data: string[] }
  | { type: 'peer-joined'; data: string[] }
  | { type: 'peer-left'; data: string[] }
  | { type: 'peer-renamed'; data: { from: string; to: string } }
  | { type: 'peer-quit'; data: { name: string; reason: string } }
  | { type: 'topic'; data: Topic }
  | { type: 'room-list'; data: { rooms: ListedRoom[]; next: string | null } }
  | { type: 'room-changed'; data: { from: string; to: string } }
  | { type: 'message'; data: ChatMessage | (ChatMessage & { history: true }) }
  | { type: 'session'; data: { token: string; maxMessageChars: number } }
  | { type: 'synced'; data: { epoch: string; seq: number; recovered?: boolean; reason?: ResumeFailure } }
  | { type: 'ack'; data: { id: string; seq: number } }
  | { type: 'direct-message'; data: DirectMessage & { stored?: true; missed?: true } }
  | { type: 'history-page'; data: { before: number; count: number; more: boolean } }
  | { type: 'history-reset'; data: { epoch: string } }
  | { type: 'message-deleted'; data: MessageDeleted }
  | { type: 'peer-kicked'; data: PeerKicked }
  | { type: 'moderation'; data: Moderated }
  // The `oper` was right: this connection is a moderator until it closes.
  | { type: 'moderator'; data: null }
  | { type: 'invitation'; data: Invitation }
  | { type: 'help'; data: string }
  | { type: 'typing'; data: { name: string; typing: boolean } }
  | { type: 'pong'; data: null }
  // This server wants a sign-in first (--auth): a password or a JWT, sent as `auth`.
  | { type: 'auth-required'; data: { mode: 'password' | 'jwt' } }
  | { type: 'error'; data: ProtocolError };

/** Events a client may send, after validation. */
export type ClientEvent =
  | { type: 'message'; data: string; id?: string; action?: true }
  | { type: 'rename'; data: string }
  | { type: 'direct-message'; data: { to: string; message: string } }
  | { type: 'typing'; data: boolean }
  | { type: 'history'; data: { before: number; limit: number } }
  | { type: 'who' }
  | { type: 'help' }
  | { type: 'join'; data: string }
  | { type: 'list' }
  | { type: 'quit'; data: string }
  | { type: 'topic'; data: string | undefined }
  | { type: 'ping' }
  | { type: 'auth'; data: string }
  // An invitation to this room, for `seconds` (null: --invite-ttl-ms).
  | { type: 'invite'; data: { seconds: number | null } }
  | ModeratorEvent;

/** What a moderator may ask (see moderation.ts); `oper` asks to be one. */
export type ModeratorEvent =
  | { type: 'oper'; data: string }
  | { type: 'kick'; data: { name: string; reason: string } }
  | { type: 'ban'; data: { name: string; seconds: number | null; reason: string } }
  | { type: 'unban'; data: { name: string } }
  | { type: 'mute'; data: { name: string; seconds: number | null } }
  | { type: 'unmute'; data: { name: string } }
  | { type: 'delete'; data: { seq: number } }
  | { type: 'slow'; data: { seconds: number } }
  // Only members may enter the room (everyone in it now becomes one), or anyone again.
  | { type: 'private' }
  | { type: 'public' };

/** The `type`s a client may send, as listed in `unknown-type` errors. */
export const CLIENT_TYPES = ['message', 'rename', 'direct-message', 'typing', 'history', 'who', 'join', 'list', 'topic', 'quit', 'help', 'ping', 'auth', 'oper', 'kick', 'ban', 'unban', 'mute', 'unmute', 'delete', 'slow', 'invite', 'private', 'public'] as const;

/** The longest ban, mute or slow mode a moderator may set (10 years): beyond it, leave the time out. */
const MAX_DURATION_SECONDS = 10 * 366 * 86_400;

/** Messages a `history` request asks for when it names no `limit`. */
export const DEFAULT_HISTORY_LIMIT = 50;

/** The commands a terminal user can type: usage, what it does, and the JSON event behind it. */
const COMMANDS: ReadonlyArray<readonly [usage: string, does: string, json: string]> = [
  ['/me <action>', 'say what you do: * you waves', '{"type":"message","data":"<action>","action":true}'],
  ['/msg <name> <text>', 'say <text> to <name> only ("Ada L" with spaces)', '{"type":"direct-message","data":{"to":"<name>","message":"<text>"}}'],
  ['/nick <name>', 'take a new name', '{"type":"rename","data":"<name>"}'],
  ['/join <room>', 'leave this room for <room>, on this connection', '{"type":"join","data":"<room>"}'],
  ['/list', 'the rooms and who is in them', '{"type":"list"}'],
  ['/names, /who', 'who is in this room', '{"type":"who"}'],
  ['/topic [text]', "show this room's topic, or set it (- clears it)", '{"type":"topic","data":"<text>"}'],
  ['/typing [on|off]', 'tell the room you are typing, or have stopped', '{"type":"typing","data":true}'],
  ['/quit [reason]', 'leave, telling the room why', '{"type":"quit","data":"<reason>"}'],
  ['/help', 'this list', '{"type":"help"}'],
  ['/invite [time]', 'a link into this private room, for 2h, 7d...', '{"type":"invite","data":{"seconds":86400}}'],
];

/** The commands of moderators (see moderation.ts), listed after the others. */
const MODERATOR_COMMANDS: ReadonlyArray<readonly [usage: string, does: string, json: string]> = [
  ['/oper <token>', 'become a moderator with the admin token', '{"type":"oper","data":"<token>"}'],
  ['/kick <name> [reason]', 'disconnect <name> from this room', '{"type":"kick","data":{"name":"<name>","reason":"<reason>"}}'],
  ['/ban <name> [time] [reason]', 'keep <name> out (30m, 2h, 7d, 2w; none: ever)', '{"type":"ban","data":{"name":"<name>","seconds":3600,"reason":"<reason>"}}'],
  ['/unban <name>', 'lift the bans made under <name>', '{"type":"unban","data":{"name":"<name>"}}'],
  ['/mute <name> [time]', '<name> reads here but cannot send', '{"type":"mute","data":{"name":"<name>","seconds":600}}'],
  ['/unmute <name>', 'let <name> speak again', '{"type":"unmute","data":{"name":"<name>"}}'],
  ['/delete <seq>', 'replace message <seq> by a tombstone', '{"type":"delete","data":{"seq":<seq>}}'],
  ['/slow <seconds>', 'one message per <seconds> each (0: off)', '{"type":"slow","data":{"seconds":<seconds>}}'],
  ['/private', 'members only; all here become members', '{"type":"private"}'],
  ['/public', 'anyone may join this room again', '{"type":"public"}'],
];

/** A list of commands, each usage padded to the widest, with the JSON event under each when `withJson`. */
function listCommands(commands: typeof COMMANDS, withJson: boolean): string[] {
  const width = Math.max(...commands.map(([usage]) => usage.length));
  return commands.flatMap(([usage, does, json]) => [`  ${usage.padEnd(width)}  ${does}`, ...(withJson ? [`  ${''.padEnd(width)}  ${json}`] : [])]);
}

/** What `/help` answers in text mode: one short line per command. */
export const TEXT_HELP = [
  'Type a line to say it to the room (// for one that starts with /). Commands:',
  ...listCommands(COMMANDS, false),
  'Moderators:',
  ...listCommands(MODERATOR_COMMANDS, false),
].join('\n');

/** What `/help` answers: the commands a terminal user can type, and the JSON events behind them. */
export const HELP = [
  'Type a line to say it to the room. Commands, with the JSON event each is:',
  ...listCommands(COMMANDS, true),
  'Moderators:',
  ...listCommands(MODERATOR_COMMANDS, true),
  'Other JSON events: {"type":"message","data":"<text>","id":"<optional id>"}, {"type":"history","data":{"before":<seq>}}, {"type":"ping"}.',
].join('\n');

export type ParseResult = { ok: true; event: ClientEvent } | { ok: false; error: ProtocolError };

export interface ParseLimits {
  /** Longest accepted chat message, in Unicode code points after trimming. */
  maxMessageChars: number;
  /** Longest topic or quit reason, likewise. */
  maxTopicChars: number;
}

const LEADING_SPACE = /^\s*/;
const MAX_ID_LENGTH = 64;
const MESSAGE_ID = /^[\x21-\x7e]{1,64}$/;
// Control characters other than tab and line breaks, invisible bidi controls that can make a
// message read differently from what it says, and UTF-16 halves without their other half (they
// cannot be encoded as UTF-8, so every recipient would see something else).
const FORBIDDEN_CHAR =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Parses one text frame. A frame whose first non-space character is `{` must be a JSON envelope
 * `{"type", "data"}`; any other text is the body of a `message`, so a terminal user can type lines,
 * and one starting with `/` is a command. In text mode (`isText`) every frame is a line typed: `{`
 * starts a chat line too. Keys other than `type`, `data`, `id` and `action` are ignored.
 */
export function parseClientFrame(text: string, limits: ParseLimits, isText = false): ParseResult {
  const start = LEADING_SPACE.exec(text)?.[0].length ?? 0;
  // `//` says a line that starts with `/`.
  if (text[start] === '/' && text[start + 1] !== '/') return parseCommand(text.slice(start + 1), limits);
  if (text[start] === '/') return parseMessage(text.slice(start + 1), limits);
  if (isText || text[start] !== '{') return parseMessage(text, limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail('bad-json', `invalid JSON (${(err as Error).message}); send {"type":"message","data":"hello"}`);
  }
  if (!isRecord(value) || typeof value.type !== 'string') {
    return fail('bad-envelope', 'expected an object with a string "type", like {"type":"message","data":"hello"}');
  }
  switch (value.type) {
    case 'message': {
      if (value.id !== undefined && !isMessageId(value.id)) {
        return fail('bad-id', `"id" must be a string of 1 to ${MAX_ID_LENGTH} printable ASCII characters, got ${describe(value.id)}`);
      }
      if (value.action !== undefined && typeof value.action !== 'boolean') return fail('bad-envelope', `"action" of a message must be true or false, got ${describe(value.action)}`);
      const parsed = parseMessage(value.data, limits, value.action === true);
      if (value.id === undefined) return parsed;
      return parsed.ok ? { ok: true, event: { ...parsed.event, id: value.id } as ClientEvent } : { ok: false, error: { ...parsed.error, id: value.id } };
    }
    case 'rename':
      return parseName(value.data);
    case 'direct-message': {
      const data = value.data;
      if (!isRecord(data) || typeof data.to !== 'string') {
        return fail('bad-message', '"data" of a direct-message must be {"to":"<name>","message":"<text>"}');
      }
      return parseDirect(data.to, data.message, limits);
    }
    case 'typing':
      if (typeof value.data !== 'boolean') return fail('bad-envelope', `"data" of typing must be true or false, got ${describe(value.data)}`);
      return { ok: true, event: { type: 'typing', data: value.data } };
    case 'history':
      return parseHistory(value.data);
    case 'join':
      return parseJoin(value.data);
    case 'topic':
      return parseTopic(value.data ?? undefined, limits);
    case 'quit':
      return parseQuit(value.data ?? '', limits);
    case 'auth':
      return parseAuth(value.data);
    case 'invite':
      return parseInvite(isRecord(value.data) ? (value.data.seconds ?? null) : value.data === undefined ? null : value.data);
    case 'private':
    case 'public':
      return { ok: true, event: { type: value.type } };
    case 'oper':
    case 'kick':
    case 'ban':
    case 'unban':
    case 'mute':
    case 'unmute':
    case 'delete':
    case 'slow':
      return parseModerator(value.type, value.data, limits);
    case 'who':
    case 'list':
    case 'help':
    case 'ping':
      return { ok: true, event: { type: value.type } };
    default:
      return fail('unknown-type', `unknown type ${JSON.stringify(value.type.slice(0, 64))}; clients may send: ${CLIENT_TYPES.join(', ')}`);
  }
}

 /** A plain-text line starting with `/`: a command for terminal users. */
function parseCommand(line: string, limits: ParseLimits): ParseResult {
  const [, command = '', rest = ''] = /^(\S*)\s*([\s\S]*)$/.exec(line) ?? [];
  switch (command) {
    case 'nick':
      return parseName(rest);
    case 'msg': {
      const [to, text] = splitName(rest);
      if (!to || text.trim() === '') return fail('unknown-command', 'usage: /msg <name> <text>, with "quotes" around a name with spaces; see /help');
      return parseDirect(to, text, limits);
    }
    case 'oper':
      if (rest.trim() === '') return fail('unknown-command', 'usage: /oper <token>, with the admin token of --admin-token-file; see /help');
      return parseModerator('oper', rest.trim(), limits);
    case 'kick':
    case 'unban':
    case 'unmute':
    case 'ban':
    case 'mute': {
      const [name, after] = splitName(rest);
      if (!name) return fail('unknown-command', `usage: ${MODERATOR_COMMANDS.find(([usage]) => usage.startsWith(`/${command} `))![0]}, with "quotes" around a name with spaces; see /help`);
      // A time is the first word when it starts with a digit; one that is not a time is refused,
      // so that a typo (1.5h, 10min, 2 weeks) never bans for ever.
      const [, word = '', reason = ''] = /^(\S*)\s*([\s\S]*)$/.exec(after.trim()) ?? [];
      const isTimed = (command === 'ban' || command === 'mute') && /^\d/.test(word);
      if (isTimed && !TIME.test(word)) return fail('unknown-command', `${JSON.stringify(word.slice(0, 16))} is not a time: a number and a unit, as in 30s, 10m, 2h, 7d or 2w; see /help`);
      return parseModerator(command, { name, reason: isTimed ? reason : after.trim(), seconds: isTimed ? secondsOf(word) : null }, limits);
    }
    case 'invite': {
      const time = rest.trim();
      if (time !== '' && !TIME.test(time)) return fail('unknown-command', 'usage: /invite [time], as in /invite 2h or /invite 7d; see /help');
      return parseInvite(secondsOf(time || undefined));
    }
    case 'private':
    case 'public':
      return { ok: true, event: { type: command } };
    case 'delete':
      return parseModerator('delete', { seq: /^\d{1,15}$/.test(rest.trim()) ? Number(rest.trim()) : rest.trim() }, limits);
    case 'slow':
      return parseModerator('slow', { seconds: /^\d{1,15}$/.test(rest.trim()) ? Number(rest.trim()) : rest.trim() }, limits);
    case 'me':
      return parseMessage(rest, limits, true);
    case 'join':
      return parseJoin(rest.trim().replace(/^#/, ''));
    case 'list':
      return { ok: true, event: { type: 'list' } };
    case 'topic':
      // `/topic` asks for it, `/topic -` clears it.
      return parseTopic(rest.trim() === '' ? undefined : rest.trim() === '-' ? '' : rest, limits);
    case 'quit':
      return parseQuit(rest, limits);
    case 'who':
    case 'names':
      return { ok: true, event: { type: 'who' } };
    case 'typing':
      if (!/^(on|off|)$/.test(rest.trim())) return fail('unknown-command', 'usage: /typing, /typing on or /typing off; see /help');
      return { ok: true, event: { type: 'typing', data: rest.trim() !== 'off' } };
    case 'help':
      return { ok: true, event: { type: 'help' } };
    case 'auth':
      return parseAuth(rest.trim());
    default:
      return fail('unknown-command', `unknown command /${command.slice(0, 32)}; type /help for the list`);
  }
}

/** `<name> <rest>`, or `"<name with spaces>" <rest>`: ['', ''] when there is no name. */
function splitName(text: string): [name: string, rest: string] {
  const [, name = '', rest = ''] = /^"([^"]*)"\s*([\s\S]*)$/.exec(text) ?? (text.startsWith('"') ? [] : /^(\S*)\s*([\s\S]*)$/.exec(text)) ?? [];
  return [name, rest];
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
/** A time as typed: a number and its unit (30s, 10m, 2h, 7d, 2w). */
const TIME = /^\d{1,9}[smhdw]$/;

/** Seconds in a time as typed (see TIME); null for none. */
const secondsOf = (time: string | undefined): number | null => (time === undefined ? null : Number(time.slice(0, -1)) * DURATION_UNITS[time.slice(-1)]!);

/** `invite`'s time: whole seconds, or null for the server's default (the server caps it: --max-invite-ttl-ms). */
function parseInvite(seconds: unknown): ParseResult {
  if (seconds !== null && (!isCount(seconds) || seconds > MAX_DURATION_SECONDS)) return fail('bad-envelope', `"seconds" of invite must be a whole number from 1 to ${MAX_DURATION_SECONDS}, or null for the server's default; got ${shown(seconds)}; see /help`);
  return { ok: true, event: { type: 'invite', data: { seconds } } };
}

/** A moderator's event (see ModeratorEvent): the data checked field by field, names as a rename takes them. */
function parseModerator(type: ModeratorEvent['type'], data: unknown, limits: ParseLimits): ParseResult {
  const bad = (message: string) => fail('bad-envelope', `${message}; see /help`);
  if (type === 'oper') {
    if (typeof data !== 'string' || data === '' || data.length > MAX_CREDENTIAL_LENGTH) return bad(`"data" of oper must be the admin token, 1 to ${MAX_CREDENTIAL_LENGTH} characters; got ${describe(data)}`);
    return { ok: true, event: { type, data } };
  }
  if (!isRecord(data)) return bad(`"data" of ${type} must be an object, as in ${MODERATOR_COMMANDS.find(([usage]) => usage.startsWith(`/${type} `))![2]}`);
  if (type === 'delete') {
    if (!isCount(data.seq)) return bad(`"seq" must be the number of the message to delete (a whole number of at least 1), got ${shown(data.seq)}`);
    return { ok: true, event: { type, data: { seq: data.seq } } };
  }
  if (type === 'slow') {
    if (!(data.seconds === 0 || isCount(data.seconds)) || data.seconds > MAX_DURATION_SECONDS) return bad(`"seconds" of slow must be a whole number of seconds from 0 (off) to ${MAX_DURATION_SECONDS}, got ${shown(data.seconds)}`);
    return { ok: true, event: { type, data: { seconds: data.seconds } } };
  }
  if (typeof data.name !== 'string') return bad(`"name" of ${type} must be the name, as a string, got ${describe(data.name)}`);
  const name = data.name.normalize('NFC').trim();
  if (!isNameShaped(name)) return fail('unknown-recipient', `nobody called ${JSON.stringify(name.slice(0, 40))} is in this room`);
  if (type === 'unban' || type === 'unmute') return { ok: true, event: { type, data: { name } } };
  if (type === 'mute' || type === 'ban') {
    const { seconds = null } = data;
    if (seconds !== null && (!isCount(seconds) || seconds > MAX_DURATION_SECONDS)) return bad(`"seconds" of ${type} must be a whole number from 1 to ${MAX_DURATION_SECONDS}, or null for until lifted; got ${shown(seconds)}`);
    if (type === 'mute') return { ok: true, event: { type, data: { name, seconds } } };
  }
  const line = parseLine(data.reason ?? '', limits.maxTopicChars, 'the reason');
  if (!line.ok) return line;
  return type === 'ban' ? { ok: true, event: { type, data: { name, seconds: (data.seconds ?? null) as number | null, reason: line.text } } } : { ok: true, event: { type: 'kick', data: { name, reason: line.text } } };
}

/** `{"before": <seq>, "limit"?: <n>}`: the messages before seq `before`; the server caps `limit`. */
function parseHistory(data: unknown): ParseResult {
  if (!isRecord(data)) return fail('bad-history', `"data" of a history request must be {"before":<seq>,"limit":<count>}, got ${describe(data)}`);
  const { before, limit = DEFAULT_HISTORY_LIMIT } = data;
  if (!isCount(before)) return fail('bad-history', `"before" must be a whole number of at least 1 (the seq to page back from), got ${shown(before)}`);
  if (!isCount(limit)) return fail('bad-history', `"limit" must be a whole number of at least 1, got ${shown(limit)}`);
  return { ok: true, event: { type: 'history', data: { before, limit } } };
}

/** A value as a person reads it in an error: a number or a (short) string itself, anything else by its kind. */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 32));
  return describe(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function parseDirect(to: string, message: unknown, limits: ParseLimits): ParseResult {
  const name = to.normalize('NFC').trim();
  if (!isNameShaped(name)) return fail('unknown-recipient', `nobody called ${JSON.stringify(name.slice(0, 40))} is in this room`);
  const parsed = parseMessage(message, limits);
  if (!parsed.ok || parsed.event.type !== 'message') return parsed;
  return { ok: true, event: { type: 'direct-message', data: { to: name, message: parsed.event.data } } };
}

/** A nickname: trimmed and in Unicode NFC, then as findNameProblem says a name must be. */
function parseName(data: unknown): ParseResult {
  if (typeof data !== 'string') return fail('bad-name', `"data" of a rename must be a string, got ${describe(data)}`);
  const name = data.normalize('NFC').trim();
  const problem = findNameProblem(name);
  if (problem !== undefined) return fail('bad-name', problem);
  return { ok: true, event: { type: 'rename', data: name } };
}

function parseMessage(data: unknown, limits: ParseLimits, action = false): ParseResult {
  if (typeof data !== 'string') {
    return fail('bad-message', `"data" of a message must be a string, got ${describe(data)}`);
  }
  const message = data.trim();
  if (message === '') return fail('bad-message', action ? 'the action is empty; say what you do, as in /me waves' : 'the message is empty; send some text');
  const problem = findTextProblem(message, limits.maxMessageChars, 'the message', 'tabs and new lines are fine');
  if (problem !== undefined) return fail('bad-message', problem);
  return { ok: true, event: action ? { type: 'message', data: message, action: true } : { type: 'message', data: message } };
}

/** What is wrong with a text others will read (a message, a topic, a reason), or undefined. */
function findTextProblem(text: string, max: number, what: string, allowed: string): string | undefined {
  const forbidden = FORBIDDEN_CHAR.exec(text);
  if (forbidden) {
    const code = forbidden[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `${what} contains U+${code} at position ${forbidden.index}, which is not text; ${allowed}`;
  }
  const length = countCodePoints(text, max);
  if (length > max) return `${what} is ${length} characters; at most ${max} are allowed`;
  return undefined;
}

/** A line of text without line breaks (a topic, a quit reason), trimmed; `data` must be a string. */
function parseLine(data: unknown, max: number, what: string): { ok: true; text: string } | { ok: false; error: ProtocolError } {
  if (typeof data !== 'string') return { ok: false, error: { code: 'bad-message', message: `${what} must be a string, got ${describe(data)}` } };
  const text = data.trim();
  const problem = /[\r\n]/.test(text) ? `${what} must be one line` : findTextProblem(text, max, what, 'tabs are fine');
  return problem === undefined ? { ok: true, text } : { ok: false, error: { code: 'bad-message', message: problem } };
}

/** Longest password or token an `auth` may carry. */
const MAX_CREDENTIAL_LENGTH = 8192;

/** `/auth <secret>`: a password or a JWT, as the server asked (auth-required). */
function parseAuth(data: unknown): ParseResult {
  if (typeof data !== 'string' || data === '' || data.length > MAX_CREDENTIAL_LENGTH) return fail('bad-envelope', `"data" of auth must be the password or token, 1 to ${MAX_CREDENTIAL_LENGTH} characters; got ${describe(data)}`);
  return { ok: true, event: { type: 'auth', data } };
}

/** `/join <room>`: a room name as the upgrade URL takes one. */
function parseJoin(data: unknown): ParseResult {
  if (typeof data !== 'string' || !ROOM_NAME.test(data)) return fail('bad-room', `a room name is 1 to 32 characters of a-z, 0-9 and -, as in /join dev; got ${shown(data)}`);
  return { ok: true, event: { type: 'join', data } };
}

/** `/topic [text]`: undefined asks for the topic, a string sets it ("" clears it). */
function parseTopic(data: unknown, limits: ParseLimits): ParseResult {
  if (data === undefined) return { ok: true, event: { type: 'topic', data: undefined } };
  const line = parseLine(data, limits.maxTopicChars, 'the topic');
  return line.ok ? { ok: true, event: { type: 'topic', data: line.text } } : line;
}

/** `/quit [reason]`: the reason others see, maybe empty. */
function parseQuit(data: unknown, limits: ParseLimits): ParseResult {
  const line = parseLine(data, limits.maxTopicChars, 'the reason');
  return line.ok ? { ok: true, event: { type: 'quit', data: line.text } } : line;
}

/** Serializes a server event; the result is sent as one text frame. */
export function encodeEvent(event: ServerEvent): string {
  return JSON.stringify(event);
}

/** The room a connection joins when its upgrade URL names none. */
export const DEFAULT_ROOM = 'lobby';
const ROOM_NAME = /^[a-z0-9-]{1,32}$/;

/** Whether `room` is a valid room name (1 to 32 characters of a-z, 0-9 and -). */
export function isRoomName(room: string): boolean {
  return ROOM_NAME.test(room);
}

/** Reads `room` from the upgrade URL's query: the room's name, or undefined when it is not a valid one. */
export function parseRoom(query: string): string | undefined {
  const room = new URLSearchParams(query).get('room') ?? DEFAULT_ROOM;
  return ROOM_NAME.test(room) ? room : undefined;
}

function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && MESSAGE_ID.test(value);
}

/**
 * Reads a resume request from the upgrade URL's query (`epoch`, `lastSeq`, `token`). A position
 * that is present but unreadable is 'malformed', so the client is told instead of silently
 * getting a fresh start.
 */
export function parseResume(query: string): { since: Position | 'malformed' | undefined; token: string | undefined } {
  const params = new URLSearchParams(query);
  const epoch = params.get('epoch');
  const lastSeq = params.get('lastSeq');
  const token = params.get('token') ?? undefined;
  if (epoch === null && lastSeq === null) return { since: undefined, token };
  if (epoch === null || lastSeq === null || !/^[0-9a-f]{1,64}$/i.test(epoch) || !/^\d{1,15}$/.test(lastSeq)) {
    return { since: 'malformed', token };
  }
  return { since: { epoch: epoch.toLowerCase(), seq: Number(lastSeq) }, token };
}

function fail(code: ProtocolError['code'], message: string): ParseResult {
  return { ok: false, error: { code, message } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Counts code points, so an emoji is one character; skips the count when the length cannot exceed `limit`. */
function countCodePoints(text: string, limit: number): number {
  if (text.length <= limit) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}
