// A set of one-shot timers that can all be cancelled at once, and signal listeners that can all be
// removed at once (a stopping daemon leaves none behind).

/** One-shot timers owned by one component; `clear()` cancels every one still pending. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();

  /** Runs `fn` after `ms` unless cleared first. */
  later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      fn();
    }, ms);
    this.pending.add(timer);
    return timer;
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

/** Listens to process signals; the function returned stops listening (a stopping daemon leaves none). */
export function onSignals(handlers: Partial<Record<NodeJS.Signals, () => void>>): () => void {
  const entries = Object.entries(handlers) as [NodeJS.Signals, () => void][];
  for (const [name, fn] of entries) process.on(name, fn);
  return () => {
    for (const [name, fn] of entries) process.off(name, fn);
  };
}
