import { createMemoryEngine } from '../lib/engine-memory.ts';
import { engineContract, type EngineUnderTest } from './engine-contract.ts';

engineContract('in memory', async (settings) => {
  const events: EngineUnderTest['events'] = [];
  return { engine: createMemoryEngine({ ...settings, listener: (room, event) => events.push({ room, event }) }), events };
});
