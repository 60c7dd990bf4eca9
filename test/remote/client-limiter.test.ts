// The client's sliding-window limiter: free slots are taken at once, waiters in order, aborts clean.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlidingWindowLimiter } from '../../src/remote/limiter.js';

describe('SlidingWindowLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const clock = () => Date.now();

  it('takes free slots synchronously and makes the next wait for the oldest to leave the window', async () => {
    const limiter = new SlidingWindowLimiter(2, 1_000, clock);
    expect(limiter.take()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(400);
    expect(limiter.take()).toBeUndefined();
    let third = false;
    const waiting = limiter.take()!.then(() => (third = true));
    await vi.advanceTimersByTimeAsync(590);
    expect(third).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    await waiting;
    expect(third).toBe(true);
    expect(limiter.inWindow).toBe(2);
  });

  it('serves waiters in order, and no window ever holds more than the cap', async () => {
    const limiter = new SlidingWindowLimiter(3, 1_000, clock);
    const taken: { i: number; at: number }[] = [];
    const all = Array.from({ length: 10 }, (_, i) => Promise.resolve(limiter.take()).then(() => taken.push({ i, at: Date.now() })));
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(all);
    expect(taken.map((t) => t.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // No slower than the window allows: the tenth leaves as the third window opens (plus the timers' rounding).
    expect(taken[9]!.at - taken[0]!.at).toBeGreaterThanOrEqual(3_000);
    expect(taken[9]!.at - taken[0]!.at).toBeLessThanOrEqual(3_010);
    for (const t of taken) expect(taken.filter((u) => u.at > t.at - 1_000 && u.at <= t.at).length).toBeLessThanOrEqual(3);
  });

  it('an aborted waiter rejects with the reason, gives up its turn and leaves no timer behind', async () => {
    const limiter = new SlidingWindowLimiter(1, 60_000, clock);
    expect(limiter.take()).toBeUndefined();
    const controller = new AbortController();
    const waiting = limiter.take(controller.signal)!;
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('closed'));
    await expect(waiting).rejects.toThrow('closed');
    expect(vi.getTimerCount()).toBe(0);
    expect(() => limiter.take(controller.signal)).toThrow('closed');
  });

  it('a waiter watches every signal it is given and ends on the first aborted', async () => {
    const limiter = new SlidingWindowLimiter(1, 60_000, clock);
    expect(limiter.take()).toBeUndefined();
    const caller = new AbortController();
    const client = new AbortController();
    const waiting = limiter.take(caller.signal, undefined, client.signal)!;
    client.abort(new Error('client closed'));
    await expect(waiting).rejects.toThrow('client closed');
    caller.abort(new Error('late'));
    expect(vi.getTimerCount()).toBe(0);
  });
});
