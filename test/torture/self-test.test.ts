// The torture suite's checker can fail: against a real emulator, temp tree and the built CLI, a
// clean sync passes, and a planted lost copy, extra copy and deleted foreign file are each caught.
import { describe, expect, it } from 'vitest';
import { checkInvariants, unclaimedIds, type Evidence } from '../../torture/lib/check.js';
import { judgeSelfTest, runSelfTest } from '../../torture/lib/selftest.js';

describe('torture self-test', () => {
  it('catches a lost copy, an extra copy and a deleted foreign file, each alone', async () => {
    const { steps } = await runSelfTest();
    expect(steps.map((s) => s.planted)).toEqual(['nothing', 'lost copy', 'extra copy', 'deleted foreign file']);
    expect(steps[0]!.result.details).toEqual([]);
    expect(steps[1]!.result.counts.lostFiles).toBe(1);
    expect(steps[2]!.result.counts.duplicates).toBe(1);
    expect(steps[3]!.result.counts.foreignTouched).toBe(1);
    expect(judgeSelfTest(steps)).toEqual([]);
  }, 120_000);

  it('does not count ids that status lists as unclaimed copies as orphans', () => {
    const ev: Evidence = {
      local: [],
      map: [],
      state: {
        files: [
          {
            id: 'file_a',
            filename: 'x.txt',
            mime_type: 'text/plain',
            size_bytes: 1,
            created_at: '',
            downloadable: false,
            sha256: 'ab',
            owner: 'self',
          },
        ],
        requests: {},
        faults: {},
      },
      foreign: [],
      unclaimed: unclaimedIds({ unclaimedCopies: [{ id: 'file_a' }] }),
      statusExit: 0,
      integrity: 'ok',
    };
    expect(checkInvariants(ev).counts.orphans).toBe(0);
    expect(checkInvariants({ ...ev, unclaimed: unclaimedIds({}) }).counts.orphans).toBe(1);
  });
});
