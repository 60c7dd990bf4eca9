// A review's finding: the pass kept its skips in one list capped at LISTED_MAX, failures and
// waits (a file still changing) together, and the exit code read the list, not the count. A
// folder's writer who made a thousand files change under the walk crowded a real failure out of
// the list: the run said "1 failed", named no file and exited 0. Failures are now listed apart
// from waits, and the exit code and the summary go by the counts.
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { emptyPlan, listSkip } from '../../src/sync/plan.js';
import { summaryLines } from '../../src/sync/report.js';
import type { Skip } from '../../src/sync/types.js';
import { reportOfPlan } from '../helpers/report.js';

const LISTED_MAX = 1000;

const changing = (i: number): Skip => ({ path: `race/f${i}`, reason: 'changing while read', failed: false, record: null });
const tooLarge: Skip = { path: 'zzz/too-big.bin', reason: 'too large: 5000 bytes, the limit is 1000', failed: true, record: null };

describe('failures are not crowded out of the report', () => {
  it('a failure counted past the list still makes the run exit 1', () => {
    // The plan as the pass left it before the fix: the list full of waits, the failure only counted.
    const plan = emptyPlan();
    for (let i = 0; i < LISTED_MAX; i++) plan.skips.push(changing(i));
    plan.skipsNotListed.failed = 1;
    const report = reportOfPlan(plan);
    expect(report.counts.failed).toBe(1);
    expect(report.exitCode).toBe(ExitCode.fileFailures);
  });

  it('a failure after a thousand waits is listed, and named in the summary', () => {
    const plan = emptyPlan();
    for (let i = 0; i < LISTED_MAX + 500; i++) listSkip(plan, changing(i));
    listSkip(plan, tooLarge);
    const report = reportOfPlan(plan);
    expect(report.exitCode).toBe(ExitCode.fileFailures);
    expect(report.counts).toMatchObject({ failed: 1, skipped: LISTED_MAX + 500 });
    expect(report.failed).toEqual([{ path: tooLarge.path, reason: tooLarge.reason }]);
    expect(report.skipped).toHaveLength(LISTED_MAX);
    expect(summaryLines(report)).toContain(`failed: ${tooLarge.path}: ${tooLarge.reason}`);
  });

  it('past the list, failures are counted, and the summary says how many it does not name', () => {
    const plan = emptyPlan();
    for (let i = 0; i < LISTED_MAX + 3; i++) listSkip(plan, { ...tooLarge, path: `big/f${i}` });
    const report = reportOfPlan(plan);
    expect(report.failed).toHaveLength(LISTED_MAX);
    expect(report.counts.failed).toBe(LISTED_MAX + 3);
    expect(summaryLines(report)).toContain(`  … and ${LISTED_MAX + 3 - 50} more`);
  });
});
