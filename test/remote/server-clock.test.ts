// The API's clock against the host's, from `Date` headers of whole seconds (src/remote/server-clock.ts).
// Each answer bounds the offset; the lower bound places an intent on the server's clock (rule 3)
// never later than it happened. The last answer's estimate alone erred low by up to a second; the
// bounds of many answers narrow that to about a round trip.
import { describe, expect, it } from 'vitest';
import { ServerClock } from '../../src/remote/server-clock.js';
import { client, fileMeta, json, localServer } from '../helpers/client-fixtures.js';

/** An answer of a server whose clock runs `offset` ms ahead: sent at `t`, stamped `stampAfter` later, back `rtt` after sending. */
function answer(clock: ServerClock, offset: number, t: number, stampAfter: number, rtt: number): void {
  const date = new Date(Math.floor((t + stampAfter + offset) / 1000) * 1000).toUTCString();
  clock.observe(date, t, t + rtt);
}

describe('ServerClock', () => {
  it("bounds the true offset at every answer, and narrows to about a round trip plus the answers' spacing", () => {
    for (const offset of [0, 437, -1_250, 60_000.5]) {
      const clock = new ServerClock();
      let t = 1_764_000_000_123;
      for (let i = 0; i < 200; i++) {
        answer(clock, offset, t, 2, 5);
        expect(clock.low!).toBeLessThanOrEqual(offset);
        expect(clock.high!).toBeGreaterThanOrEqual(offset);
        t += 37; // answers straddle second boundaries
      }
      // A round trip plus the answers' spacing: the nearest one to a second boundary bounds it.
      expect(clock.high! - clock.low!).toBeLessThanOrEqual(5 + 37);
    }
  });

  it('one answer alone leaves a second of doubt, with the truth inside', () => {
    const clock = new ServerClock();
    answer(clock, 0, 1_764_000_000_900, 1, 3);
    expect(clock.low!).toBeLessThanOrEqual(0);
    expect(clock.high!).toBeGreaterThanOrEqual(0);
    expect(clock.high! - clock.low!).toBeGreaterThan(900);
  });

  it("starts afresh when the host's clock steps (an answer contradicts the bounds)", () => {
    const clock = new ServerClock();
    let t = 1_764_000_000_000;
    for (let i = 0; i < 50; i++, t += 37) answer(clock, 0, t, 2, 5);
    // The host's clock jumps back 10 s: the same server time now reads as a 10 s offset.
    for (let i = 0; i < 50; i++, t += 37) answer(clock, 10_000, t, 2, 5);
    expect(clock.low!).toBeLessThanOrEqual(10_000);
    expect(clock.high!).toBeGreaterThanOrEqual(10_000);
    expect(clock.high! - clock.low!).toBeLessThanOrEqual(5 + 37);
  });

  it('ignores answers without a date', () => {
    const clock = new ServerClock();
    clock.observe(undefined, 1, 2);
    clock.observe('not a date', 1, 2);
    expect(clock.low).toBeUndefined();
    expect(clock.high).toBeUndefined();
  });
});

describe('FilesClient: the clock offset from a real server', () => {
  it('never places the server clock later than it runs, and keeps the tightest bound', async () => {
    const offset = 3_456;
    const server = await localServer((_req, res) =>
      json(res, 200, fileMeta('file_1'), { date: new Date(Date.now() + offset).toUTCString() }),
    );
    const c = client(server.url);
    let best = -Infinity;
    for (let i = 0; i < 30; i++) {
      await c.get('file_1');
      const low = c.clockOffsetMs()!;
      expect(low).toBeLessThanOrEqual(offset);
      expect(low).toBeGreaterThanOrEqual(best); // a later answer never loosens it
      best = low;
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(offset - best).toBeLessThan(1000);
  });
});
