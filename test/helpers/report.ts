// A run's report from a plan alone, as a run that did nothing else would make it (its executor's
// report empty): for tests of what the report lists and counts.
import { emptyExecuteReport, reportOf, type SyncReport } from '../../src/sync/outcome.js';
import type { Plan } from '../../src/sync/types.js';

export function reportOfPlan(plan: Plan): SyncReport {
  return reportOf({
    plan,
    result: emptyExecuteReport(),
    dryRun: false,
    startedAt: 0,
    finishedAt: 1,
    apiRequests: 0,
    sizes: () => undefined,
  });
}
