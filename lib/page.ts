// Serves the chat page: streamed from disk, with a Content-Security-Policy that admits only the
// page's own inline script and style (by hash) and no other origin.

import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

const INLINE_BLOCK = /<(script|style)>([\s\S]*?)<\/\1>/g;

/**
 * Builds the CSP for an HTML page: each inline `<script>` and `<style>` block is allowed by its
 * SHA-256, nothing else may load, and the page may only connect back to its own origin.
 */
export function pageSecurityPolicy(html: string): string {
  const hashes = { script: [] as string[], style: [] as string[] };
  for (const [, tag, body] of html.matchAll(INLINE_BLOCK)) {
    const digest = createHash('sha256').update(body ?? '').digest('base64');
    hashes[tag as 'script' | 'style'].push(`'sha256-${digest}'`);
  }
  return [
    "default-src 'none'",
    `script-src ${hashes.script.join(' ') || "'none'"}`,
    `style-src ${hashes.style.join(' ') || "'none'"}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Returns a request handler for GET and HEAD of the page at `path`. The file is read once at
 * start-up to hash its inline code; each request streams it from disk, so an edit that keeps the
 * inline code needs no restart.
 */
export function createPageHandler(path: string): (req: IncomingMessage, res: ServerResponse) => void {
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': pageSecurityPolicy(readFileSync(path, 'utf8')),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
    'Referrer-Policy': 'no-referrer',
  };
  return (req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, headers).end();
      return;
    }
    const file = createReadStream(path);
    file.once('open', () => {
      res.writeHead(200, headers);
      file.pipe(res);
    });
    file.once('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('the chat page could not be read\n');
    });
    res.once('close', () => file.destroy());
  };
}
