// `node server.ts` and `npm start` both begin here; the command line itself is lib/cli.ts. This
// file is plain JavaScript, and the root package is CommonJS, so that a Node that cannot run
// TypeScript (20, or 22 before 22.18) still loads it as a .js file and can say so in one line,
// where an ES module scope would fail with ERR_UNKNOWN_FILE_EXTENSION's stack trace before any of
// our code ran. lib/, test/ and bench/ are ES modules by their own package.json.

import('./lib/cli.ts').catch((err) => {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  console.error(`plainchat: node server.ts needs Node 22.18 or newer (this is ${process.versions.node}); run npm start instead, which works on Node 20 and later`);
  process.exit(1);
});
