// plainchat's command line: read the configuration, start the server, print where to open it, and
// shut down cleanly on SIGINT or SIGTERM.

import { helpText, parseConfig } from './lib/config.ts';
import { startServer } from './lib/server.ts';

let parsed;
try {
  parsed = parseConfig(process.argv.slice(2), process.env);
} catch (err) {
  console.error(`plainchat: ${(err as Error).message}`);
  process.exit(2);
}
if (parsed.help) {
  console.log(helpText());
  process.exit(0);
}

const server = await startServer(parsed.config).catch((err: NodeJS.ErrnoException) => {
  const hint = err.code === 'EADDRINUSE' ? '; pick another with --port or PORT' : err.code === 'EACCES' ? '; pick a port above 1023' : '';
  console.error(`plainchat: cannot start: ${err.message}${hint}`);
  process.exit(1);
});
console.log(`plainchat is listening: open ${server.url} in a browser, or connect with websocat ${server.url.replace('http', 'ws')}/ws`);

let isClosing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (isClosing) {
      console.error(`plainchat: second ${signal}, exiting without waiting for peers`);
      process.exit(1);
    }
    isClosing = true;
    console.log(`plainchat: ${signal} received, closing connections (again to exit at once)`);
    server.close().then(() => process.exit(0));
  });
}
