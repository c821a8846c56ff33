// Loaded into both servers under test (`--import`, with `--expose-gc`): on the benchmark's request
// over the IPC channel it runs a full garbage collection and answers with the process's memory, so
// that live memory per connection can be told apart from what the heap grew to and kept.

const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message) => {
  if (message !== 'memory' || !gc) return;
  gc();
  gc();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  process.send?.({ rss, heapUsed, heapTotal, external });
});
// The channel must not keep a server alive, nor stop it from exiting as it would without the probe.
process.channel?.unref();
