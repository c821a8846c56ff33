// Who may come in (--auth): anyone (`open`), whoever knows one shared password (`password`), or
// whoever holds a JWT the embedding application signed (`jwt`, verified by `jose`). This module
// checks credentials and says who they name; the connection asks it, the server reads the key files.

import { createHash, createHmac, createPublicKey, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, jwtVerify } from 'jose';
import { findNameProblem } from './names.ts';
import { isRoomName } from './protocol.ts';
import { newToken } from './sessions.ts';

export type AuthMode = 'open' | 'password' | 'jwt';

/** Who a signed-in connection is. */
export interface Identity {
  /** jwt: the user's stable id, one person across rooms, devices and restarts. */
  sub?: string;
  /** jwt: the display name, reserved for `sub`. */
  name?: string;
  /** jwt: the only rooms this user may join; undefined: every room. */
  rooms?: string[];
  isModerator: boolean;
  /** jwt: when the token expires, in ms since the epoch. */
  expiresAt?: number;
}

/** What a credential proved: who it names, or why not (`expired`: fetch a new token and try again). */
export type Verdict = { ok: true; identity: Identity } | { ok: false; isExpired: boolean; message: string };

export interface Auth {
  readonly mode: AuthMode;
  /** Checks a password (password mode) or a JWT (jwt mode). */
  verify(credential: string): Promise<Verdict>;
  /** A new session token: in password mode it carries a MAC, so that it later admits without the password. */
  newToken(): string;
  /** Whether a session token a client brought admits it by itself (password mode: its MAC is right). */
  isSignedToken(token: string): boolean;
  /** The one session token of a user with a stable id (jwt: from `sub`), the same on every process. */
  tokenOf(identity: Identity): string | undefined;
  /** Whether --admin-token-file gives a token that makes moderators (see moderation.ts). */
  readonly hasAdminToken: boolean;
  /** Whether `given` is that token (compared in constant time); false when there is none. */
  isAdminToken(given: string): boolean;
}

export interface AuthFiles {
  auth: AuthMode;
  passwordFile: string | undefined;
  jwtSecretFile: string | undefined;
  jwtPublicKeyFile: string | undefined;
  adminTokenFile: string | undefined;
}

/** Whether two secrets are equal, in time that says nothing about where they differ nor how long they are. */
export function isSameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

const mac = (key: Buffer | string, value: string, length: number) => createHmac('sha256', key).update(value).digest('base64url').slice(0, length);

/** Reads a secret from a file (a trailing newline is not part of it); says what is wrong if it cannot be used. */
function readSecret(path: string, flag: string, minLength: number): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${flag} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret.length < minLength) throw new Error(`${flag} ${path}: the secret must be at least ${minLength} characters`);
  return secret;
}

/** The checker the configuration asks for; throws, saying which file is wrong and how, when it cannot be made. */
export function createAuth(files: AuthFiles): Auth {
  const adminToken = files.adminTokenFile === undefined ? undefined : readSecret(files.adminTokenFile, '--admin-token-file', 16);
  const admin = { hasAdminToken: adminToken !== undefined, isAdminToken: (given: string) => adminToken !== undefined && isSameSecret(given, adminToken) };
  return { ...signIn(files), ...admin };
}

/** Who may come in, as --auth says. */
function signIn(files: AuthFiles): Omit<Auth, 'hasAdminToken' | 'isAdminToken'> {
  if (files.auth === 'open') return { mode: 'open', verify: async () => ({ ok: true, identity: { isModerator: false } }), newToken, isSignedToken: () => false, tokenOf: () => undefined };
  if (files.auth === 'password') {
    if (!files.passwordFile) throw new Error('--auth password needs --password-file <file>: the shared password is read from a file, never from a flag that `ps` shows');
    const password = readSecret(files.passwordFile, '--password-file', 8);
    // Sessions are signed with a key made from the password: changing it ends every session.
    const key = createHash('sha256').update(`plainchat session\n${password}`).digest();
    return {
      mode: 'password',
      verify: async (given) => (isSameSecret(given, password) ? { ok: true, identity: { isModerator: false } } : { ok: false, isExpired: false, message: 'wrong password' }),
      newToken: () => {
        const id = newToken();
        return `${id}.${mac(key, id, 22)}`;
      },
      isSignedToken: (token) => {
        const [id = '', signature = '', ...rest] = token.split('.');
        return rest.length === 0 && id !== '' && isSameSecret(signature, mac(key, id, 22));
      },
      tokenOf: () => undefined,
    };
  }
  const { key, algorithms, material } = jwtKey(files);
  return {
    mode: 'jwt',
    verify: (token) => verifyJwt(token, key, algorithms),
    newToken,
    isSignedToken: () => false,
    tokenOf: ({ sub }) => (sub === undefined ? undefined : mac(material, `plainchat sub\n${sub}`, 32)),
  };
}

/** The key tokens are verified with, and the algorithms it may be used with (never `none`). */
function jwtKey({ jwtSecretFile, jwtPublicKeyFile }: AuthFiles): { key: KeyObject; algorithms: string[]; material: string } {
  if (!jwtSecretFile === !jwtPublicKeyFile) throw new Error('--auth jwt needs one of --jwt-secret-file <file> (HS256) or --jwt-public-key-file <file> (RS256 or ES256, PEM)');
  if (jwtSecretFile) {
    const secret = readSecret(jwtSecretFile, '--jwt-secret-file', 32);
    return { key: createSecretKey(Buffer.from(secret)), algorithms: ['HS256'], material: secret };
  }
  const pem = readSecret(jwtPublicKeyFile!, '--jwt-public-key-file', 1);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error(`--jwt-public-key-file ${jwtPublicKeyFile}: not a PEM public key (-----BEGIN PUBLIC KEY-----)`);
  }
  const { asymmetricKeyType: type, asymmetricKeyDetails: details } = key;
  if (type === 'rsa') return { key, algorithms: ['RS256'], material: pem };
  if (type === 'ec' && details?.namedCurve === 'prime256v1') return { key, algorithms: ['ES256'], material: pem };
  throw new Error(`--jwt-public-key-file ${jwtPublicKeyFile}: an RSA key (RS256) or a P-256 EC key (ES256) is needed, not ${type}${details?.namedCurve ? ` ${details.namedCurve}` : ''}`);
}

/** Verifies a JWT and reads its claims: `sub` and `exp` are required; `name`, `rooms` and `role` are checked when present. */
async function verifyJwt(token: string, key: KeyObject, algorithms: string[]): Promise<Verdict> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms, requiredClaims: ['sub', 'exp'] }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, isExpired: true, message: 'the token has expired; fetch a new one' };
    if (err instanceof errors.JOSEError) return { ok: false, isExpired: false, message: `the token is not valid: ${err.message}` };
    throw err;
  }
  const { sub, rooms, role, exp } = payload;
  // As a rename takes a name: in NFC, trimmed.
  const name = typeof payload.name === 'string' ? payload.name.normalize('NFC').trim() : payload.name;
  const refuse = (message: string): Verdict => ({ ok: false, isExpired: false, message: `the token is not valid: ${message}` });
  if (typeof sub !== 'string' || sub === '' || sub.length > 256) return refuse('"sub" must be a string of 1 to 256 characters');
  const nameProblem = name === undefined ? undefined : typeof name === 'string' ? findNameProblem(name) : 'a name must be a string';
  if (nameProblem !== undefined) return refuse(`"name": ${nameProblem}`);
  if (rooms !== undefined && !(Array.isArray(rooms) && rooms.every((room) => typeof room === 'string' && isRoomName(room)))) return refuse('"rooms" must be a list of room names');
  if (role !== undefined && role !== 'moderator') return refuse('"role" may only be "moderator"');
  return { ok: true, identity: { sub, isModerator: role === 'moderator', expiresAt: exp! * 1000, ...(name !== undefined && { name: name as string }), ...(rooms !== undefined && { rooms: rooms as string[] }) } };
}

/** The subprotocol a client offers to say it speaks plainchat; the server answers with it. */
export const SUBPROTOCOL = 'plainchat';

/**
 * The credentials an upgrade carries where proxies do not log them, in `Sec-WebSocket-Protocol`
 * beside `plainchat`: `plainchat.jwt.<JWT>`, `plainchat.token.<session token>` and
 * `plainchat.invite.<invitation>` (all made of characters a subprotocol may have).
 */
export function offeredCredentials(header: string | undefined): { jwt?: string; token?: string; invite?: string } {
  const offered: { jwt?: string; token?: string; invite?: string } = {};
  for (const protocol of (header ?? '').split(',')) {
    const [, kind, value] = /^\s*plainchat\.(jwt|token|invite)\.(\S+?)\s*$/.exec(protocol) ?? [];
    if (kind === 'jwt' || kind === 'token' || kind === 'invite') offered[kind] = value;
  }
  return offered;
}
