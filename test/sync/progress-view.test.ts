// The progress view of `files-sync sync`: throttled whatever the totals say, since a reconciliation
// decides its uploads as it goes and its queue may catch up with the walk many times.
import { expect, it } from 'vitest';
import { ProgressView } from '../../src/sync/report.js';

it('writes one plain line per five seconds even when every update says all queued files are done', () => {
  const lines: string[] = [];
  const out = { write: (s: string) => lines.push(s), columns: 0 } as unknown as NodeJS.WriteStream;
  let now = 1_000_000;
  const view = new ProgressView(out, false, () => now);
  for (let i = 1; i <= 1000; i++) {
    now += 10; // 1,000 uploads over 10 s, each finishing the queue as the walk adds the next
    view.update('sync', { filesDone: i, filesTotal: i, bytesDone: i * 1024, bytesTotal: i * 1024 });
  }
  expect(lines.length).toBeLessThanOrEqual(3);
  expect(lines.length).toBeGreaterThanOrEqual(1);
});
