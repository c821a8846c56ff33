// Which requests the server answers: the `Host` they name (DNS-rebinding defence) and the `Origin`
// that may open a WebSocket (cross-site WebSocket hijacking defence).

import { isIPv6 } from 'node:net';

/** Whether a request's `Host` header names a host this server answers to. */
export type HostCheck = (host: string | undefined) => boolean;

/** Whether an upgrade's `Origin` may open a WebSocket, given the request's `Host`. */
export type OriginCheck = (origin: string | undefined, host: string | undefined) => boolean;

/** Names every browser resolves to this machine itself, so a page elsewhere cannot rebind them. */
const LOCAL_HOSTS = ['localhost', '*.localhost'];

/**
 * Builds the check for a request's `Host` header, once at start-up. A page on another site can get
 * its own name to resolve to this server's address (DNS rebinding), and its requests then look
 * same-origin to the browser; only the `Host` header still names the attacker's site. Allowed:
 * `allowedHosts` (`--allowed-hosts`: names, addresses, `*.name` for every subdomain, `*` for
 * anything), or when it is not set `localhost`, `*.localhost`, every loopback address and `machine`
 * (this machine's addresses and host name, read by the caller); and `publicUrl`'s host in either
 * case. The port is ignored; names compare case-insensitively, addresses in canonical form.
 */
export function createHostCheck({ allowedHosts, publicUrl }: { allowedHosts?: readonly string[] | undefined; publicUrl?: string | undefined }, machine: readonly string[] = []): HostCheck {
  const patterns = [...(allowedHosts ?? [...LOCAL_HOSTS, ...machine]), ...(publicUrl ? [new URL(publicUrl).host] : [])];
  if (patterns.includes('*')) return () => true;
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const pattern of patterns) {
    const isWildcard = pattern.startsWith('*.');
    const host = canonicalHost(isWildcard ? pattern.slice(2) : pattern);
    if (host === undefined) continue;
    if (isWildcard) suffixes.push(`.${host}`);
    else exact.add(host);
  }
  const isLoopbackAllowed = allowedHosts === undefined;
  return (header) => {
    const host = header === undefined ? undefined : canonicalHost(header);
    if (host === undefined) return false;
    return exact.has(host) || suffixes.some((suffix) => host.endsWith(suffix)) || (isLoopbackAllowed && isLoopback(host));
  };
}

/**
 * Builds the check for an upgrade's `Origin` header. Allowed: no Origin at all (command-line
 * clients send none), the page's own origin (`http://` or `https://` plus the request's Host) when
 * `isAllowedHost` allows that Host, `publicUrl`'s origin, and exact entries of `allowedOrigins`.
 * Everything else, `null` and look-alikes included, is refused: the comparison is of whole strings,
 * never prefixes or substrings.
 */
export function createOriginCheck({ allowedOrigins, publicUrl }: { allowedOrigins: readonly string[]; publicUrl?: string | undefined }, isAllowedHost: HostCheck): OriginCheck {
  const exact = new Set([...allowedOrigins, ...(publicUrl ? [publicUrl] : [])].map((o) => o.toLowerCase()));
  return (origin, host) => {
    if (origin === undefined) return true;
    const candidate = origin.toLowerCase();
    if (exact.has(candidate)) return true;
    if (!host || !isAllowedHost(host)) return false;
    const own = host.toLowerCase();
    return candidate === `http://${own}` || candidate === `https://${own}`;
  };
}

/** Parses `--allowed-origins`: comma-separated `scheme://host[:port]` origins, each exactly as a browser sends it. */
export function parseOrigins(raw: string): string[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw new Error(`"${entry}" is not an origin; write it like https://chat.example.com`);
      }
      if (url.origin === 'null' || url.origin !== entry.toLowerCase().replace(/\/$/, '')) {
        throw new Error(`"${entry}" is not an origin; write only scheme://host[:port], like ${url.origin === 'null' ? 'https://chat.example.com' : url.origin}`);
      }
      return url.origin;
    });
}

/**
 * Parses `--allowed-hosts`: comma-separated host names or IP addresses (IPv6 with or without
 * brackets), `*.name` for every subdomain of a name, or `*` for any host; without ports, since
 * every port is allowed. Returns them as the Host check compares them (lowercase, IPv6 in brackets).
 */
export function parseHosts(raw: string): string[] {
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('expected comma-separated host names or IP addresses, like chat.example.com, or * for any host');
  return entries.map((entry) => {
    if (entry === '*') return entry;
    if (entry.includes('://')) {
      const host = URL.canParse(entry) ? new URL(entry).hostname : 'chat.example.com';
      throw new Error(`"${entry}" is a URL; write only its host name (${host}), or give the URL to --public-url`);
    }
    const unbracketed = entry.replace(/^\[(.*)\]$/, '$1');
    if (entry.includes(':') && !isIPv6(unbracketed)) {
      throw new Error(`"${entry}" has a port; write the host alone (${entry.slice(0, entry.lastIndexOf(':'))}): the server answers to it on every port`);
    }
    const isWildcard = entry.startsWith('*.');
    const host = canonicalHost(isWildcard ? entry.slice(2) : unbracketed);
    if (host === undefined || !/^([a-z0-9_.-]+|\[[0-9a-f:.]+\])$/.test(host)) {
      throw new Error(`"${entry}" is not a host name or IP address; write it like chat.example.com, *.example.com, 10.0.0.5 or ::1`);
    }
    return isWildcard ? `*.${host}` : host;
  });
}

/**
 * Parses `--public-url`: the http:// or https:// URL people open. Returns its origin, which may
 * open a WebSocket whatever Host a proxy sends on, and whose host the Host check allows.
 */
export function parsePublicUrl(raw: string): string {
  const example = 'write it like https://chat.example.com';
  if (!URL.canParse(raw.trim())) throw new Error(`"${raw}" is not a URL; ${example}`);
  const url = new URL(raw.trim());
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${raw}" is not an http:// or https:// URL; ${example}`);
  if (url.username || url.password) throw new Error(`"${raw}" holds a user name or password; ${example}`);
  return url.origin;
}

/**
 * The origin people reach the page at, for links the server hands out: --public-url's, or
 * `http://` and the request's Host (which the Host check allowed); behind --trust-proxy,
 * `https://` when the proxy's X-Forwarded-Proto says so.
 */
export function pageOrigin({ publicUrl, trustProxy }: { publicUrl: string | undefined; trustProxy: boolean }, host: string | undefined, forwardedProto: string | string[] | undefined): string {
  if (publicUrl !== undefined) return publicUrl;
  const isHttps = trustProxy && String(forwardedProto ?? '').split(',').at(-1)?.trim().toLowerCase() === 'https';
  return `${isHttps ? 'https' : 'http'}://${host ?? 'localhost'}`;
}

/**
 * `host[:port]`, or a bare IPv6 address, reduced to the host as URL parsing writes it: lowercase,
 * punycode, IP addresses in canonical form, IPv6 in brackets, no trailing dot, no port. Undefined
 * when it names no host.
 */
function canonicalHost(raw: string): string | undefined {
  const value = isIPv6(raw) ? `[${raw}]` : raw;
  // URL parsing would read these as a path, a user name, an escape or nothing, and so another host than the one sent.
  if (/[\s/\\?#@%]/.test(value) || !URL.canParse(`http://${value}`)) return undefined;
  return new URL(`http://${value}`).hostname.replace(/\.$/, '') || undefined;
}

/** Whether a canonical host is a loopback address (127.0.0.0/8 or ::1). */
function isLoopback(host: string): boolean {
  return host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
