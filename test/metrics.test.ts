import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join, nextMessage, scrape, startTestServer } from './helpers.ts';

describe('metrics', async () => {
  test('GET /metrics parses as Prometheus text and moves with the chat', async () => {
    const server = await startTestServer({ rateBurst: 3, ratePerSecond: 1, pasteQueueEvents: 1 });
    const before = await scrape(server);
    for (const name of ['plainchat_peers', 'plainchat_rooms', 'plainchat_frames_received_total', 'plainchat_frames_sent_total', 'plainchat_chat_messages_total', 'plainchat_deliveries_total', 'plainchat_frames_dropped_total', 'plainchat_rate_limited_total', 'plainchat_events_delayed_total', 'plainchat_slow_consumer_closes_total', 'plainchat_event_loop_delay_p99_seconds', 'process_resident_memory_bytes']) {
      assert.ok(before.has(name), `${name} is on the page`);
    }
    assert.equal(before.get('plainchat_peers'), 0);

    const a = await join(server);
    const b = await join(server, '/ws?room=dev');
    a.client.send('hello');
    await nextMessage(a.client, 'hello');
    // Over the burst of 3: one waits in the paste queue, and the one after is refused.
    for (let i = 0; i < 4; i++) a.client.send('again');
    await a.client.nextOfType('error');
    const after = await scrape(server);
    assert.equal(after.get('plainchat_peers'), 2);
    assert.equal(after.get('plainchat_rooms'), 2);
    assert.equal(after.get('plainchat_frames_received_total')! - before.get('plainchat_frames_received_total')!, 5);
    assert.equal(after.get('plainchat_chat_messages_total'), 4, 'hello, the two agains within the burst, and the one that waited (the refusal is answered after it)');
    assert.ok(after.get('plainchat_deliveries_total')! >= 1, 'a message reached its room of one');
    assert.ok(after.get('plainchat_frames_sent_total')! > before.get('plainchat_frames_sent_total')!);
    assert.equal(after.get('plainchat_rate_limited_total'), 1);
    assert.equal(after.get('plainchat_events_delayed_total'), 1);

    await b.client.close();
    await a.client.close();
    for (let tries = 0; (await scrape(server)).get('plainchat_peers') !== 0; tries++) {
      assert.ok(tries < 50, 'peers fall back to 0 once both have left');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});
