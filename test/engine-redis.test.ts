import { describe } from 'node:test';
import { createRedisEngine } from '../lib/engine-redis.ts';
import { engineContract, type EngineUnderTest } from './engine-contract.ts';
import { redisMissing, startRedis } from './redis-server.ts';

const missing = redisMissing();
if (missing) {
  describe('engine contract: Redis', { skip: missing }, () => {});
} else {
  const redis = await startRedis();
  let engines = 0;
  // Each engine gets a namespace of its own, so every test starts from an empty Redis.
  engineContract('Redis', async (settings) => {
    const events: EngineUnderTest['events'] = [];
    const rules: EngineUnderTest['rules'] = [];
    const engine = await createRedisEngine({ ...settings, url: redis.url, nodeTtlMs: 10_000, prefix: `test${++engines}:`, listener: (room, event) => events.push({ room, event }), onRules: (changes) => rules.push(changes) });
    return { engine, events, rules };
  });
}
