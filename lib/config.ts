// Configuration from command-line flags and the environment: one table of options, validated at
// start-up, that also writes `--help` and README's configuration table.

export interface Config {
  port: number;
  /** Interface to listen on; undefined listens on every interface. */
  host: string | undefined;
  /** Longest chat message, in characters (Unicode code points) after trimming. */
  maxMessageChars: number;
  /** Largest WebSocket frame a client may send, in bytes; a bigger one closes the connection with 1009. */
  maxFrameBytes: number;
  /** How long a shutdown waits for peers to close before cutting them off, in milliseconds. */
  shutdownTimeoutMs: number;
}

interface Option<K extends keyof Config> {
  key: K;
  flag: string;
  env: string;
  default: Config[K];
  help: string;
  parse(raw: string): Config[K];
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number from ${min} to ${max}, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`expected a whole number from ${min} to ${max}, got ${raw}`);
    return value;
  };
}

function host(raw: string): string {
  const value = raw.trim();
  if (value === '' || /[\s/]/.test(value)) throw new Error(`expected a host name or IP address, got "${raw}"`);
  return value;
}

const option = <K extends keyof Config>(o: Option<K>): Option<K> => o;

/** Every option, in the order `--help` lists them. */
export const OPTIONS = [
  option({ key: 'port', flag: '--port', env: 'PORT', default: 3000, parse: integer(0, 65535), help: 'TCP port to listen on (0 picks a free one)' }),
  option({ key: 'host', flag: '--host', env: 'HOST', default: undefined, parse: host, help: 'interface to listen on (default: every interface)' }),
  option({ key: 'maxMessageChars', flag: '--max-message-chars', env: 'MAX_MESSAGE_CHARS', default: 2000, parse: integer(1, 1_000_000), help: 'longest chat message, in characters' }),
  option({ key: 'maxFrameBytes', flag: '--max-frame-bytes', env: 'MAX_FRAME_BYTES', default: 64 * 1024, parse: integer(128, 64 * 1024 * 1024), help: 'largest frame a client may send, in bytes (bigger: closed with 1009)' }),
  option({ key: 'shutdownTimeoutMs', flag: '--shutdown-timeout-ms', env: 'SHUTDOWN_TIMEOUT_MS', default: 5000, parse: integer(0, 600_000), help: 'how long shutdown waits for peers to close, in ms' }),
];

/** The defaults, for embedding the server (tests, benchmarks) with a few options changed. */
export function defaultConfig(): Config {
  return Object.fromEntries(OPTIONS.map((o) => [o.key, o.default])) as unknown as Config;
}

export type ParsedArgs = { help: true } | { help: false; config: Config };

/**
 * Reads flags (`--port 3000` or `--port=3000`) over environment variables over defaults.
 * Throws an Error whose message says which setting is wrong and how to fix it.
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedArgs {
  const raw = new Map<Option<keyof Config>, { value: string; source: string }>();
  for (const o of OPTIONS) {
    const value = env[o.env];
    if (value !== undefined && value !== '') raw.set(o, { value, source: `environment variable ${o.env}` });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return { help: true };
    const [flag = '', inline] = arg.split(/=(.*)/s, 2);
    const o = OPTIONS.find((candidate) => candidate.flag === flag);
    if (!o) throw new Error(`unknown option "${arg}"; run with --help to see the options`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value; run with --help to see the options`);
    raw.set(o, { value, source: flag });
  }
  const config = defaultConfig();
  for (const [o, { value, source }] of raw) {
    try {
      (config as unknown as Record<string, unknown>)[o.key] = o.parse(value);
    } catch (err) {
      throw new Error(`${source}: ${(err as Error).message}`);
    }
  }
  return { help: false, config };
}

/** The text `--help` prints. */
export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const fallback = o.default === undefined ? '' : ` (default ${o.default})`;
    return `  ${`${o.flag} <value>`.padEnd(30)} ${o.env.padEnd(22)} ${o.help}${fallback}`;
  });
  return [
    'Usage: npm start -- [options]   or   node server.ts [options]',
    '',
    'Every option can also be set by its environment variable; a flag wins over the environment.',
    '',
    ...rows,
    `  ${'--help'.padEnd(30)} ${''.padEnd(22)} print this help and exit`,
  ].join('\n');
}
