// Text mode (`/ws?format=text`): every server event as the lines a person reads in a terminal, in
// the forms IRC clients made familiar. Pure: the event and who is reading in, text out. Every form
// is listed in docs/PROTOCOL.md ("Text mode"), and test/text.test.ts reads each from the server.

import type { ServerEvent } from './protocol.ts';

/** Who reads the lines, and how times are shown to them. */
export interface TextView {
  /** The reader's name: a direct message is "->" from them, "<-" to them. */
  me: string;
  /** `[18:13]`, or with the date for a message of another day. */
  time(ts: number): string;
}

/**
 * Formats times as `HH:MM` in `timeZone` (`local`: the server's; `UTC`, or any IANA zone), with
 * the date in front when the day is not today's there.
 */
export function textClock(timeZone: string, now: () => number): (ts: number) => string {
  const zone = timeZone === 'local' ? undefined : timeZone;
  const clock = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return (ts) => {
    const date = day.format(ts);
    return `[${date === day.format(now()) ? '' : `${date} `}${clock.format(ts)}]`;
  };
}

/** Throws unless `timeZone` is `local` or a zone this Node knows (`UTC`, `Europe/Paris`, ...). */
export function checkTimeZone(timeZone: string): string {
  if (timeZone !== 'local') new Intl.DateTimeFormat('en', { timeZone });
  return timeZone;
}

/** `a`, `a and b`, `a, b and c`, `a, b and 10 others`. */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
}

/** A line with more lines under it: each further line indented to where the first line's text starts. */
function block(head: string, text: string): string {
  const indent = ' '.repeat([...head].length);
  return head + text.split(/\r?\n/).join(`\n${indent}`);
}

/** What a failed resume means, in a line. */
const NOT_RECOVERED = {
  'too-old': 'you were away for more messages than can be caught up: the newest are above',
  'unknown-epoch': 'the server started its history over: the messages above are from before',
  future: 'the server has fewer messages than you saw (restored from a backup?): above is what it has',
  malformed: 'the position to resume from was not readable: the newest are above',
} as const;

/** The lines of one event (several joined by `\n`, one frame), or undefined when a reader of text is told nothing. */
export function renderText(event: ServerEvent, view: TextView): string | undefined {
  switch (event.type) {
    case 'message': {
      const { sender, message, ts, action, deleted } = event.data;
      if (deleted) return `${view.time(ts)} <${sender}> (deleted)`;
      return block(action ? `${view.time(ts)} * ${sender} ` : `${view.time(ts)} <${sender}> `, message);
    }
    case 'direct-message': {
      const { from, to, message, ts, stored, missed } = event.data;
      const isMine = from === view.me;
      const note = stored ? ` (kept: ${to} is away)` : missed ? ' (while you were away)' : '';
      return block(`${view.time(ts)} ${isMine ? `-> ${to}` : `<- ${from}`}: `, message + note);
    }
    case 'peer-joined':
      return `-- ${listNames(event.data)} joined`;
    case 'peer-left':
      return `-- ${listNames(event.data)} left`;
    case 'peer-quit':
      return event.data.reason ? `-- ${event.data.name} quit: ${event.data.reason}` : undefined;
    case 'message-deleted':
      return `-- a message by ${event.data.sender} was deleted by ${event.data.by}`;
    case 'peer-kicked':
      return `-- ${event.data.name} was kicked by ${event.data.by}${event.data.reason ? `: ${event.data.reason}` : ''}`;
    case 'peer-renamed':
      return `-- ${event.data.from} is now ${event.data.to}`;
    case 'moderation':
      return `-- ${renderAct(event.data, view)}`;
    case 'moderator':
      return '-- you are a moderator on this connection: /help lists what you may do';
    case 'invitation':
      return renderInvitation(event.data, view);
    case 'update-peers':
      return `-- ${event.data.length} here: ${event.data.join(', ')}`;
    case 'topic': {
      const { topic, by, ts } = event.data;
      if (topic) return `-- topic: ${topic} (set by ${by} ${view.time(ts)})`;
      return by ? `-- ${by} cleared the topic` : '-- no topic is set; /topic <text> sets one';
    }
    case 'room-list':
      return [`-- ${event.data.rooms.length}${event.data.next === null ? '' : ' (and more)'} room${event.data.rooms.length === 1 ? '' : 's'}:`, ...event.data.rooms.map(({ room, peers, private: isPrivate }) => `   #${room} (${peers} online${isPrivate ? ', private' : ''})`)].join('\n');
    case 'room-changed':
      return `-- you left #${event.data.from}`;
    case 'synced':
      return event.data.reason ? `-- ${NOT_RECOVERED[event.data.reason]}` : undefined;
    case 'history-reset':
      return '-- the server started its history over: numbering starts again';
    case 'help':
      return event.data;
    case 'auth-required':
      return `-- this chat needs a sign-in: type /auth <${event.data.mode === 'jwt' ? 'token' : 'password'}>`;
    case 'error': {
      const { code, message, retryAfterMs } = event.data;
      // A mute's message says more than its wait.
      return `!! ${code}: ${retryAfterMs === undefined || code === 'muted' ? message : `wait ${(retryAfterMs / 1000).toFixed(1)} s`}`;
    }
    case 'name-generated':
    case 'session':
    case 'ack':
    case 'history-page':
    case 'typing':
    case 'pong':
      return undefined;
  }
}

/** A moderator's act as the room reads it: `Spam Bot was banned by Mod [19:00]: spam`. */
function renderAct({ action, by, name, reason, until, seconds }: Extract<ServerEvent, { type: 'moderation' }>['data'], view: TextView): string {
  const when = until === undefined ? '' : until === null ? ' until lifted' : ` until ${view.time(until)}`;
  const why = reason ? `: ${reason}` : '';
  switch (action) {
    case 'ban':
      return `${name} was banned by ${by}${when}${why}`;
    case 'mute':
      return `${name} was muted by ${by}${when}`;
    case 'unban':
      return `${by} lifted the ban on ${name}`;
    case 'unmute':
      return `${by} let ${name} speak again`;
    case 'slow':
      return seconds ? `${by} set slow mode: one message every ${seconds} s each` : `${by} ended slow mode`;
    case 'private':
      return `${by} made this room private: only its members may join; /invite makes an invitation`;
    case 'public':
      return `${by} made this room public: anyone may join`;
  }
}

/** An invitation's link, and the same for websocat (`ws://host/ws?room=…&invite=…`); a public room's plain link. */
function renderInvitation({ room, code, expiresAt, url }: Extract<ServerEvent, { type: 'invitation' }>['data'], view: TextView): string {
  const { origin } = new URL(url);
  const websocat = `websocat '${origin.replace(/^http/, 'ws')}/ws?room=${room}${code === null ? '' : `&invite=${code}`}'`;
  if (code === null || expiresAt === null) return `-- #${room} is public: anyone may join\n   open  ${url}\n   or    ${websocat}`;
  return `-- invitation to #${room} until ${view.time(expiresAt)}:\n   open  ${url}\n   or    ${websocat}`;
}

/** The greeting: who you are, where, with how many, and where the commands are. */
export function renderBanner(name: string, room: string, peers: number, token: string | undefined): string {
  const banner = `You are ${name} in #${room}. ${peers} online. /help for commands.`;
  // Without a token (jwt: the sign-in is who you are) there is nothing to come back with.
  return token === undefined ? banner : `${banner}\n-- to come back as ${name}, reconnect with &token=${token} in the URL`;
}
