/**
 * A concurrency limiter that, when a slot frees, starts the waiting task of highest priority (first
 * come first among equals). Tasks queued in the same tick are all weighed before any starts.
 */

/** Runs `task` when a slot is free and its turn has come; resolves or rejects with it. */
export type PriorityLimit = <T>(priority: number, task: () => Promise<T>) => Promise<T>;

interface Waiting {
  priority: number;
  seq: number;
  start: () => void;
}

/** A limiter running at most `concurrency` tasks at once. */
export function priorityLimit(concurrency: number): PriorityLimit {
  const waiting: Waiting[] = [];
  let active = 0;
  let seq = 0;
  let scheduled = false;
  const next = () => {
    scheduled = false;
    while (active < concurrency && waiting.length > 0) {
      let best = 0;
      for (let i = 1; i < waiting.length; i++) {
        const w = waiting[i]!;
        const b = waiting[best]!;
        if (w.priority > b.priority || (w.priority === b.priority && w.seq < b.seq)) best = i;
      }
      const [chosen] = waiting.splice(best, 1);
      active++;
      chosen!.start();
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(next);
  };
  return <T>(priority: number, task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      waiting.push({
        priority,
        seq: seq++,
        start: () => {
          task()
            .then(resolve, reject)
            .finally(() => {
              active--;
              schedule();
            });
        },
      });
      schedule();
    });
}
