// plainchat's command line: read the configuration, start the server (or, with --workers, several
// that share the port), print where to open it, and shut down cleanly on SIGINT or SIGTERM.

import cluster from 'node:cluster';
import { helpText, parseConfig } from './config.ts';
import { startServer } from './server.ts';

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
const { config } = parsed;
// A terminal or log reader that went away must not turn a line of output into a crash.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** The line that tells a user where the chat is. */
function banner(url: string, workers: number): string {
  const processes = workers > 1 ? ` (${workers} processes)` : '';
  return `plainchat is listening: open ${url} in a browser, or connect with websocat ${url.replace('http', 'ws')}/ws${processes}`;
}

if (config.workers > 1 && cluster.isPrimary) {
  // The primary only starts workers, which share the listening socket through node:cluster; it
  // starts again any that dies, and passes a stop signal on to all of them.
  let isClosing = false;
  let listening = 0;
  for (let i = 0; i < config.workers; i++) cluster.fork();
  // Announced once every worker listens, so that the first connections already spread over all.
  cluster.on('message', (_worker, message: { url?: string }) => {
    if (message.url && ++listening === config.workers) console.log(banner(message.url, config.workers));
  });
  cluster.on('exit', (worker, code, signal) => {
    if (isClosing) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    console.error(`plainchat: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    setTimeout(() => cluster.fork(), 1000).unref();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const workers = Object.values(cluster.workers ?? {});
      if (isClosing) {
        console.error(`plainchat: second ${signal}, stopping every worker without waiting for peers`);
        for (const worker of workers) worker?.process.kill('SIGKILL');
        process.exit(1);
      }
      isClosing = true;
      console.log(`plainchat: ${signal} received, closing every worker's connections (again to exit at once)`);
      for (const worker of workers) worker?.process.kill('SIGTERM');
    });
  }
} else {
  const server = await startServer(config).catch((err: NodeJS.ErrnoException) => {
    const hint = err.code === 'EADDRINUSE' ? '; pick another with --port or PORT' : err.code === 'EACCES' ? '; pick a port above 1023' : '';
    console.error(`plainchat: cannot start: ${err.message}${hint}`);
    process.exit(1);
  });
  let isClosing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A worker hears Ctrl-C with the whole terminal and again from the primary; the primary
      // decides whether a second one means "now".
      if (isClosing && cluster.isWorker) return;
      if (isClosing) {
        console.error(`plainchat: second ${signal}, exiting without waiting for peers`);
        process.exit(1);
      }
      isClosing = true;
      if (!cluster.isWorker) console.log(`plainchat: ${signal} received, closing connections (again to exit at once)`);
      server.close().then(() => process.exit(0));
    });
  }
  // Announced once the signals are handled, so that whoever waits for this line may stop it at once.
  if (cluster.isWorker) process.send?.({ url: server.url });
  else console.log(banner(server.url, 1));
}
