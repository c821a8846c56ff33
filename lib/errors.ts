// Every error event code, close code and upgrade refusal the server uses, in closed lists, each saying whether a
// client should reconnect (the model is Centrifuge's disconnect.go). docs/PROTOCOL.md mirrors this.

/** Codes carried by `{"type":"error","data":{"code","message"}}`; the connection stays open. */
export const ERROR_CODES = {
  'bad-json': 'the text frame starts with `{` but is not valid JSON',
  'bad-envelope': 'the frame is not an object with a string `type`',
  'unknown-type': 'the `type` is not an event a client may send',
  'bad-message': 'the `data` of a `message` is not a non-empty string of text within the length limit',
  'bad-id': 'the `id` of a `message` is not 1 to 64 printable ASCII characters',
  'bad-name': 'the `data` of a `rename` is not 1 to 32 letters, digits, spaces, - and _, or has an invisible character or filler, or mixes scripts',
  'name-taken': 'someone in the room already has that name or a look-alike of it (compared by Unicode skeleton after NFKC and case folding), or a session away owns it',
  'unknown-recipient': 'nobody of that name is in the room, online or away (direct messages reach only peers of your room); for a kick, ban or mute, nobody of that name is online in it; for an unban or unmute, nobody is banned or muted under it',
  'recipient-full': 'the recipient is away and has as many direct messages waiting as may be kept for it; nothing was kept',
  'bad-room': 'the room of a `join` is not 1 to 32 characters of a-z, 0-9 and -, or is the room you are in; for `private` or `public`, the room is so already',
  'room-refused': 'the room of a `join` cannot be entered now: the server holds as many rooms as it may, or your address opened too many new rooms (`retryAfterMs` says when to try again), or it is private and you are not one of its members',
  'unknown-command': 'the text starts with / but is not one of the commands that /help lists',
  'bad-history': 'the `data` of a `history` request is not `{"before": <seq>, "limit": <count>}` with whole numbers of at least 1',
  'rate-limited': 'the connection sent more events than the rate limit allows; `retryAfterMs` says when to retry',
  'auth-required': 'this server wants a sign-in first (see `auth-required`): send `{"type":"auth","data":"<password or token>"}`, or /auth <password or token>',
  'auth-failed': 'the password or token of an `auth` is wrong or not valid (the message says why); `retryAfterMs` when the address has made too many wrong tries',
  'unknown-message': 'no message of that seq is kept in the room (never sent, or gone from history)',
  'not-moderator': 'the event is a moderator\'s (kick, ban, unban, mute, unmute, delete, slow, private, public, or setting the topic on a server with moderators); become one with `oper` and the admin token, or a JWT with `role: "moderator"`',
  muted: 'a moderator muted you in this room: you can read it but not send to it (`retryAfterMs` says when the mute ends, when it does)',
  'slow-mode': 'the room is in slow mode and your last message was too recent; `retryAfterMs` says when you may send the next',
  unavailable: 'the server could not keep or pass on the event just now (the store cannot write, or Redis is unreachable); nothing changed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A refusal the client can act on: `code` is stable, `message` says what was wrong and what is expected. */
export interface ProtocolError {
  code: ErrorCode;
  message: string;
  /** With `rate-limited`: milliseconds until the next event will be accepted. */
  retryAfterMs?: number;
  /** The `id` of the refused `message`, when it had one: the client knows which send failed. */
  id?: string;
}

/**
 * WebSocket close codes the server sends, with the reason text and whether reconnecting makes sense.
 * `tooBig` is sent by `ws` itself, with no reason text, when a frame exceeds `maxFrameBytes`; it is
 * listed so that this file stays the one list of codes.
 */
export const CLOSE = {
  shutdown: { code: 1001, reason: 'server shutting down', reconnect: true },
  binary: { code: 1003, reason: 'binary frames are not supported; send JSON text', reconnect: false },
  flood: { code: 1008, reason: 'too many events over the rate limit', reconnect: true },
  // ws would cut a client that pings faster than it reads the pongs without a close frame; pings are policed like events instead.
  pingFlood: { code: 1008, reason: 'too many pings', reconnect: true },
  tooBig: { code: 1009, reason: '', reconnect: false },
  quit: { code: 1000, reason: 'quit', reconnect: false },
  joinFailed: { code: 1011, reason: 'could not join the room; try again', reconnect: true },
  signInTimeout: { code: 4401, reason: 'no sign-in in time; connect again and sign in', reconnect: false },
  roomForbidden: { code: 4403, reason: 'your sign-in does not let you into this room', reconnect: false },
  privateRoom: { code: 4403, reason: 'this room is private: ask one of its members for an invitation', reconnect: false },
  tokenExpired: { code: 4440, reason: 'token expired: fetch a new token and connect again', reconnect: true },
  // The reason is widened to name why, as `kicked: spam` (see withReason).
  kicked: { code: 4003, reason: 'kicked' as string, reconnect: false },
  banned: { code: 4030, reason: 'banned' as string, reconnect: false },
  slow: { code: 4008, reason: 'too slow: the server buffered too much for this connection', reconnect: true },
  slowReplay: { code: 4008, reason: 'too slow: the greeting and replay were not read in time', reconnect: true },
} as const;

export type CloseInfo = (typeof CLOSE)[keyof typeof CLOSE];

/** A close reason is at most 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

/** A close (`kicked`, `banned`) with its reason after it, as `kicked: <reason>`, cut to what a close frame holds. */
export function withReason(close: typeof CLOSE.kicked | typeof CLOSE.banned, reason: string): CloseInfo {
  let text = reason ? `${close.reason}: ${reason}` : close.reason;
  while (Buffer.byteLength(text) > MAX_CLOSE_REASON_BYTES) text = [...text].slice(0, -1).join('');
  return { ...close, reason: text };
}

/** Seconds a refused client is told to wait (`Retry-After`) when the server is full or closing. */
export const RETRY_AFTER_SECONDS = 5;

/** HTTP answers to an upgrade that will not be served; no WebSocket opens. */
export const REFUSE = {
  room: { status: 400, message: 'a room name is 1 to 32 characters of a-z, 0-9 and -, as in /ws?room=dev', retryAfter: undefined },
  path: { status: 404, message: 'WebSocket connections are accepted on /ws only', retryAfter: undefined },
  origin: { status: 403, message: 'this origin may not connect; the server operator can add it with --allowed-origins', retryAfter: undefined },
  // Sent by `hostRefusal`, which names the refused host in front (the message is widened for that).
  host: { status: 421, message: 'this server does not answer to that host name; the server operator can add it with --allowed-hosts (or --public-url)' as string, retryAfter: undefined },
  shuttingDown: { status: 503, message: 'the server is shutting down; try again shortly', retryAfter: RETRY_AFTER_SECONDS },
  full: { status: 503, message: 'too many connections; try again later', retryAfter: RETRY_AFTER_SECONDS },
  // The three budgets per address: Retry-After says when the address has earned the next one.
  requests: { status: 429, message: 'too many requests from your address; wait as Retry-After says', retryAfter: undefined },
  newRooms: { status: 429, message: 'your address has opened too many new rooms; wait as Retry-After says, or join a room people are in', retryAfter: undefined },
  replays: { status: 429, message: 'your address has resumed too often; wait as Retry-After says', retryAfter: undefined },
  // Sent with the reason the credential failed (see auth.ts), which widens the message.
  signIn: { status: 401, message: 'the sign-in of this upgrade is not valid' as string, retryAfter: undefined },
  roomForbidden: { status: 403, message: 'your sign-in does not let you into this room', retryAfter: undefined },
  // Widened with how long and why (see Moderation.banRefusal).
  banned: { status: 403, message: 'a moderator banned you from this chat' as string, retryAfter: undefined },
  guesses: { status: 429, message: 'too many wrong sign-ins from your address; wait as Retry-After says', retryAfter: undefined },
  // Sent with the room's name for "this room" (see PrivateRooms.upgradeRefusal).
  privateRoom: { status: 403, message: 'this room is private: only its members may join; ask one for an invitation (/invite)' as string, retryAfter: undefined },
  // Widened to say which: expired, or not valid (forged, another room's, malformed).
  invitation: { status: 403, message: 'the invitation is not valid' as string, retryAfter: undefined },
  // Likewise, and with the cap.
  roomMembersFull: { status: 403, message: 'this room has as many members as it may (--max-room-members); a moderator may make it public' as string, retryAfter: undefined },
  invitationGuesses: { status: 429, message: 'too many wrong invitations or sign-ins from your address; wait as Retry-After says', retryAfter: undefined },
  roomsFull: { status: 503, message: 'the server holds as many rooms as it may (--max-rooms); join a room people are in, or try later', retryAfter: RETRY_AFTER_SECONDS },
} as const;

export type Refusal = (typeof REFUSE)[keyof typeof REFUSE];

/**
 * The `host` refusal (421) for a request whose `Host` header is missing or not allowed (lib/origin.ts),
 * naming the host so that the operator knows what to add.
 */
export function hostRefusal(host: string | undefined): Refusal {
  if (!host) return { ...REFUSE.host, message: 'the request has no Host header; send the host name you connected to' };
  return { ...REFUSE.host, message: `Host ${JSON.stringify(host.slice(0, 255))}: ${REFUSE.host.message}` };
}
