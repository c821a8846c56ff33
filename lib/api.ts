// The HTTP API for programs (`/api/...`, docs/API.md): post, read and delete a room's messages, list
// and kick its peers, with a bearer key read from --api-key-file. Input is validated by the same
// rules as the socket's (lib/protocol.ts, lib/names.ts); answers and errors are JSON.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admission } from './admission.ts';
import { isSameSecret } from './auth.ts';
import type { Config } from './config.ts';
import type { Engine } from './engine.ts';
import { ERROR_CODES, type ErrorCode } from './errors.ts';
import type { Hub } from './hub.ts';
import type { Moderation } from './moderation.ts';
import { findNameProblem } from './names.ts';
import { type ClientEvent, DEFAULT_HISTORY_LIMIT, isRoomName, parseClientFrame } from './protocol.ts';

/** Codes only the API answers with; the rest are the socket's (lib/errors.ts). docs/API.md lists them all. */
export const API_ERROR_CODES = {
  'api-off': 'the server was started without --api-key-file',
  unauthorized: 'the request has no `Authorization: Bearer <key>` header, or not the key of --api-key-file',
  'not-found': 'no route of the API has that path',
  'method-not-allowed': 'the route does not take that method; `Allow` lists those it takes',
  'bad-request': 'the body is not a JSON object with the fields the route takes, or is not sent as application/json, or a number in the path or query is not a whole number of at least 1',
  'too-large': 'the body is over --max-api-body-bytes',
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES | ErrorCode;

/** Who deletes and kicks through the API, as the room is told. */
export const API_ACTOR = 'api';

/** Shortest key --api-key-file may hold. */
const MIN_KEY_LENGTH = 16;

/**
 * Reads the API key from `path`, without its trailing newline. Throws an Error that says what is
 * wrong with the file and how to fix it: missing, unreadable, empty or too short.
 */
export function readApiKey(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the API key file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); write a key of at least ${MIN_KEY_LENGTH} characters into it, e.g. openssl rand -hex 32 > ${path}`);
  }
  const key = text.replace(/\r?\n$/, '');
  if (key.length < MIN_KEY_LENGTH) throw new Error(`the API key file ${path} holds ${key.length === 0 ? 'no key' : `a key of ${key.length} characters`}; write one of at least ${MIN_KEY_LENGTH}, e.g. openssl rand -hex 32 > ${path}`);
  // Sent in a header, so printable ASCII without spaces: a key that could never match is refused now.
  if (!/^[\x21-\x7e]+$/.test(key)) throw new Error(`the API key file ${path} holds spaces or characters other than printable ASCII; write a key such as openssl rand -hex 32 makes`);
  return key;
}

export interface ApiContext {
  engine: Engine;
  hub: Hub;
  config: Config;
  admission: Admission;
  /** Writes the audit line of each delete and kick, as a moderator's are. */
  moderation: Pick<Moderation, 'record'>;
  now: () => number;
  /** The budget key of a request's client (see --trust-proxy). */
  addressOf: (req: IncomingMessage) => string;
  log: (message: string) => void;
}

/** An error answer: the HTTP status and the JSON error, with headers to add. */
class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly headers: Record<string, string>;

  constructor(status: number, code: ApiErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

type Answer = { status: number; body: unknown };

interface Route {
  /** The path after `/api/rooms/<room>`. */
  pattern: RegExp;
  /** Handlers by method; `params` are the pattern's groups. */
  methods: Record<string, (room: string, request: ApiRequest) => Promise<Answer>>;
}

interface ApiRequest {
  req: IncomingMessage;
  params: string[];
  query: URLSearchParams;
}

/** The `/api/...` request handler; with no key (no --api-key-file) every path answers that the API is off. */
export function createApiHandler(context: ApiContext, key: string | undefined): (req: IncomingMessage, res: ServerResponse, path: string, query: string) => void {
  const routes = createRoutes(context);
  return (req, res, path, query) => {
    answer(req, context, key, routes, path, query).then(
      ({ status, body }) => send(res, status, body),
      (err: unknown) => {
        if (err instanceof ApiError) send(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
        else {
          context.log(`API ${req.method} ${path.slice(0, 200)} failed: ${String(err)}`);
          send(res, 503, { error: { code: 'unavailable', message: ERROR_CODES.unavailable } });
        }
      },
    );
  };
}

async function answer(req: IncomingMessage, context: ApiContext, key: string | undefined, routes: Route[], path: string, query: string): Promise<Answer> {
  if (key === undefined) throw new ApiError(404, 'api-off', 'the HTTP API is off; the server operator turns it on with --api-key-file <path>, a file holding a key of at least 16 characters (see docs/API.md)');
  authorize(req, context, key);
  const match = /^\/api\/rooms\/([^/]*)(\/.*)$/.exec(path);
  const route = match && routes.find((candidate) => candidate.pattern.test(match[2]!));
  if (!match || !route) throw new ApiError(404, 'not-found', `no API route at ${path.slice(0, 200)}; see docs/API.md`);
  const handler = route.methods[req.method ?? ''];
  const allow = Object.keys(route.methods).join(', ');
  if (!handler) throw new ApiError(405, 'method-not-allowed', `use ${allow} on ${path.slice(0, 200)}`, { Allow: allow });
  const room = match[1]!;
  if (!isRoomName(room)) throw new ApiError(400, 'bad-room', `a room name is 1 to 32 characters of a-z, 0-9 and -, got ${JSON.stringify(room.slice(0, 40))}`);
  const params = route.pattern.exec(match[2]!)!.slice(1);
  return handler(room, { req, params, query: new URLSearchParams(query) });
}

/**
 * Checks the bearer key in constant time (over digests, so its length does not leak either). An
 * address that sent too many wrong keys is refused before its key is looked at.
 */
function authorize(req: IncomingMessage, { admission, addressOf }: ApiContext, key: string): void {
  const address = addressOf(req);
  const wait = admission.apiKeyWait(address);
  if (wait > 0) throw new ApiError(429, 'rate-limited', 'too many wrong API keys from your address; wait as Retry-After says', { 'Retry-After': String(Math.ceil(wait / 1000)) });
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  const challenge = { 'WWW-Authenticate': 'Bearer' };
  if (bearer === undefined) throw new ApiError(401, 'unauthorized', 'send the API key as Authorization: Bearer <key>', challenge);
  if (!isSameSecret(bearer, key)) {
    admission.takeApiKeyFailure(address);
    throw new ApiError(401, 'unauthorized', 'that is not the API key; the server operator has it in the --api-key-file', challenge);
  }
}

function createRoutes({ engine, hub, config, moderation, now }: ApiContext): Route[] {
  const limits = { maxMessageChars: config.maxMessageChars, maxTopicChars: config.maxTopicChars };
  return [
    {
      pattern: /^\/messages$/,
      methods: {
        async GET(room, { query }) {
          const before = count(query.get('before'), '"before"', 'bad-history') ?? Number.MAX_SAFE_INTEGER;
          const limit = Math.min(count(query.get('limit'), '"limit"', 'bad-history') ?? DEFAULT_HISTORY_LIMIT, config.historyPageMax);
          const page = await engine.history(room, before, limit);
          return { status: 200, body: page };
        },
        async POST(room, { req }) {
          const body = await readJson(req, config.maxApiBodyBytes);
          const sender = parseSender(body.sender);
          const text = validated(parseClientFrame(JSON.stringify({ type: 'message', data: body.message }), limits)) as Extract<ClientEvent, { type: 'message' }>;
          const id = idempotencyKey(req);
          if (!engine.heldRooms.has(room) && engine.heldRooms.size >= config.maxRooms) throw new ApiError(503, 'room-refused', 'the server holds as many rooms as it may (--max-rooms); post to a room people are in, or try later', { 'Retry-After': '5' });
          if (await engine.isNameTaken(room, sender)) throw new ApiError(409, 'name-taken', `${JSON.stringify(sender)} is someone's in #${room} (online, or owned by a session away): a bot may not speak as a person; pick another sender`);
          // One origin per sender: an Idempotency-Key is remembered per sender, as a message id per session.
          const published = await engine.publish(room, { sender, message: text.data, ts: now() }, { token: `api\n${sender}`, ...(id === undefined ? {} : { id }) });
          return { status: 201, body: { seq: published.seq, epoch: published.epoch, ts: published.ts } };
        },
      },
    },
    {
      pattern: /^\/messages\/([^/]+)$/,
      methods: {
        async DELETE(room, { params }) {
          const seq = count(params[0]!, 'the seq', 'bad-request')!;
          const tombstone = await engine.deleteMessage(room, seq, API_ACTOR);
          if (!tombstone) throw new ApiError(404, 'unknown-message', `no message ${seq} is kept in #${room}`);
          moderation.record({ room, name: API_ACTOR }, 'delete', tombstone.sender, { seq });
          return { status: 200, body: { message: tombstone } };
        },
      },
    },
    {
      pattern: /^\/peers$/,
      methods: {
        async GET(room) {
          return { status: 200, body: { peers: await engine.peers(room) } };
        },
      },
    },
    {
      pattern: /^\/kick$/,
      methods: {
        async POST(room, { req }) {
          const body = await readJson(req, config.maxApiBodyBytes);
          if (typeof body.name !== 'string') throw new ApiError(400, 'bad-request', '"name" must be the name to kick, as a string');
          const { data: reason } = validated(parseClientFrame(JSON.stringify({ type: 'quit', data: body.reason ?? '' }), limits)) as Extract<ClientEvent, { type: 'quit' }>;
          const wanted = body.name.normalize('NFC').trim();
          const connections = hub.countNamed(room, wanted);
          const name = await engine.kick(room, { name: wanted, by: API_ACTOR, reason });
          if (name === undefined) throw new ApiError(404, 'unknown-recipient', `nobody called ${JSON.stringify(wanted.slice(0, 40))} is online in #${room}`);
          moderation.record({ room, name: API_ACTOR }, 'kick', name, { reason });
          return { status: 200, body: { name, connections } };
        },
      },
    },
  ];
}

/** A socket parse's event, or its error as a 400 with the socket's code. */
function validated(parsed: ReturnType<typeof parseClientFrame>) {
  if (!parsed.ok) throw new ApiError(400, parsed.error.code, parsed.error.message);
  return parsed.event;
}

/** A sender's name, as a nickname must be (lib/names.ts). */
function parseSender(value: unknown): string {
  if (typeof value !== 'string') throw new ApiError(400, 'bad-name', '"sender" must be the name to post as, a string');
  const name = value.normalize('NFC').trim();
  const problem = findNameProblem(name);
  if (problem !== undefined) throw new ApiError(400, 'bad-name', problem);
  return name;
}

/** The Idempotency-Key header, as a message `id` must be. */
function idempotencyKey(req: IncomingMessage): string | undefined {
  const value = req.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(value)) throw new ApiError(400, 'bad-id', 'Idempotency-Key must be 1 to 64 printable ASCII characters, such as a UUID');
  return value;
}

/** A whole number of at least 1 from the path or query (refused with `code`); undefined when absent. */
function count(raw: string | null, what: string, code: ApiErrorCode): number | undefined {
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) throw new ApiError(400, code, `${what} must be a whole number of at least 1, got ${JSON.stringify(raw.slice(0, 20))}`);
  return Number(raw);
}

/** The request's body as a JSON object, at most `maxBytes`, sent as application/json. */
async function readJson(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new ApiError(415, 'bad-request', 'send the body as JSON, with Content-Type: application/json');
  const tooLarge = () => new ApiError(413, 'too-large', `the body is over ${maxBytes} bytes (--max-api-body-bytes)`, { Connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ApiError(400, 'bad-json', `the body is not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'bad-request', 'the body must be a JSON object, such as {"sender":"ci-bot","message":"hello"}');
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
