// One pass at the end of each turn of the event loop, after its I/O, for the work that waits for it:
// the store's commit of the turn's writes, and the outboxes' writes to their sockets. Work queued
// while the pass runs (the fan-out of what was just committed, and its writes) runs in the same
// pass, so a message committed in a turn leaves in that turn, not one turn later.

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
