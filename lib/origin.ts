// Cross-site WebSocket hijacking defence: which `Origin` may open a WebSocket.

/**
 * Builds the check for an upgrade's `Origin` header. Allowed: no Origin at all (command-line
 * clients send none), the page's own origin (`http://` or `https://` plus the request's Host), and
 * exact entries of `allowed`. Everything else, `null` and look-alikes included, is refused: the
 * comparison is of whole strings, never prefixes or substrings.
 */
export function createOriginCheck(allowed: readonly string[]): (origin: string | undefined, host: string | undefined) => boolean {
  const exact = new Set(allowed.map((o) => o.toLowerCase()));
  return (origin, host) => {
    if (origin === undefined) return true;
    const candidate = origin.toLowerCase();
    if (exact.has(candidate)) return true;
    if (!host) return false;
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
