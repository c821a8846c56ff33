// One pass at the end of each turn of the event loop, after its I/O, for the work that waits for it:
// the store's commit of the turn's writes, and the outboxes' writes to their sockets. Work queued
// while the pass runs (the fan-out of what was just committed, and its writes) runs in the same
// pass, so a message committed in a turn leaves in that turn, not one turn later. And slices, for
// long work done a part at a time: one slice a turn, whoever waits.

const tasks: Array<() => void> = [];

/** Runs `task` at the end of this turn, after the tasks queued before it. */
export function atTurnEnd(task: () => void): void {
  if (tasks.length === 0) setImmediate(runTasks);
  tasks.push(task);
}

function runTasks(): void {
  // Tasks may queue more: they join this pass.
  for (let i = 0; i < tasks.length; i++) {
    try {
      tasks[i]!();
    } catch (err) {
      // One failing task must not keep the others (the writes of every socket) from running.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  tasks.length = 0;
}

const slices: Array<() => void> = [];

/**
 * Resolves in a later turn of the event loop, one waiter a turn, in the order they came: long work
 * done in parts (a replay, page by page) takes one part a turn, with everyone's I/O served between,
 * however many wait. (An immediate queued by an immediate runs in the next turn.)
 */
export function nextSlice(): Promise<void> {
  return new Promise((resolve) => {
    if (slices.length === 0) setImmediate(runSlice);
    slices.push(resolve);
  });
}

function runSlice(): void {
  slices.shift()!();
  if (slices.length > 0) setImmediate(runSlice);
}
