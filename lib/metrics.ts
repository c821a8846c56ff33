// What an operator scrapes from `GET /metrics`: this process's counters and gauges in Prometheus's
// text format (https://prometheus.io/docs/instrumenting/exposition_formats/).

import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Counters since the process started; the server's modules add to them as things happen. */
export interface Counters {
  framesReceived: number;
  framesSent: number;
  framesDropped: number;
  messagesPublished: number;
  deliveries: number;
  rateLimited: number;
  delayed: number;
  slowConsumerCloses: number;
}

export function createCounters(): Counters {
  return { framesReceived: 0, framesSent: 0, framesDropped: 0, messagesPublished: 0, deliveries: 0, rateLimited: 0, delayed: 0, slowConsumerCloses: 0 };
}

const COUNTER_HELP: Record<keyof Counters, [name: string, help: string]> = {
  framesReceived: ['plainchat_frames_received_total', 'Frames received from clients (messages in).'],
  framesSent: ['plainchat_frames_sent_total', 'Frames written to clients (messages out), pings included.'],
  framesDropped: ['plainchat_frames_dropped_total', 'Frames not written because the socket had closed.'],
  messagesPublished: ['plainchat_chat_messages_total', 'Chat messages published by clients of this process.'],
  deliveries: ['plainchat_deliveries_total', 'Chat messages queued to a peer of this process (one per message per recipient).'],
  rateLimited: ['plainchat_rate_limited_total', 'Client events refused by the rate limit (over it with the paste queue full).'],
  delayed: ['plainchat_events_delayed_total', 'Client events over the rate limit that waited in the paste queue instead.'],
  slowConsumerCloses: ['plainchat_slow_consumer_closes_total', 'Connections closed with 4008 for reading too slowly.'],
};

export interface Gauges {
  peers: number;
  rooms: number;
  historyBytes: number;
}

/** Renders the counters and gauges. Event-loop delay is measured between scrapes: each scrape resets it. */
export class MetricsPage {
  readonly #counters: Counters;
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(counters: Counters) {
    this.#counters = counters;
    this.#loopDelay.enable();
  }

  render({ peers, rooms, historyBytes }: Gauges): string {
    const lines: string[] = [];
    const add = (name: string, type: 'counter' | 'gauge', help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    };
    add('plainchat_peers', 'gauge', 'Peers connected to this process and in a room.', peers);
    add('plainchat_history_bytes', 'gauge', 'Bytes of history this process holds in memory (--max-history-bytes bounds it; with Redis, history is in Redis).', historyBytes);
    add('plainchat_rooms', 'gauge', 'Rooms this process holds: with peers, or with state kept in memory while empty (with Redis: with peers here).', rooms);
    for (const key of Object.keys(COUNTER_HELP) as Array<keyof Counters>) {
      const [name, help] = COUNTER_HELP[key];
      add(name, 'counter', help, this.#counters[key]);
    }
    // An empty histogram (no timer turn since the last scrape) reports NaN.
    const p99 = this.#loopDelay.count > 0 ? this.#loopDelay.percentile(99) / 1e9 : 0;
    this.#loopDelay.reset();
    add('plainchat_event_loop_delay_p99_seconds', 'gauge', 'p99 of event-loop delay since the previous scrape.', p99);
    add('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', process.memoryUsage.rss());
    return `${lines.join('\n')}\n`;
  }

  close(): void {
    this.#loopDelay.disable();
  }
}
