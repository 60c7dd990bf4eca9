// Arrays as long as a big tree: a mass delete of a 1,000,000-file folder's ledger rows must join
// the plan, not overflow the stack. `a.push(...b)` puts every element of b on the stack as an
// argument, and a few hundred thousand are more than V8 allows (a real sync of a re-rooted 1M tree
// died with "Maximum call stack size exceeded" in addJudgement).
import { describe, expect, it } from 'vitest';
import { append, minOf } from '../../src/arrays.js';
import { addJudgement, emptyPlan } from '../../src/sync/plan.js';
import type { DeleteAction } from '../../src/sync/types.js';

const MANY = 500_000;

describe('arrays as long as the tree', () => {
  it('joins a guard verdict of 500,000 deletes to the plan', () => {
    const deletes: DeleteAction[] = Array.from({ length: MANY }, (_, i) => ({
      fileId: `file_${i}`,
      path: `d/${i}.txt`,
      reason: 'deleted',
      fromLocalDelete: true,
    }));
    const forget = Array.from({ length: MANY }, (_, i) => `gone/${i}.txt`);
    const plan = emptyPlan();
    addJudgement(plan, { deletes, forget, held: null, deletesBlocked: null });
    expect(plan.deletes).toHaveLength(MANY);
    expect(plan.deletes[MANY - 1]!.fileId).toBe(`file_${MANY - 1}`);
    expect(plan.forget).toHaveLength(MANY);
  });

  it('append keeps order and returns its target; minOf is the least, Infinity for none', () => {
    const target = [1, 2];
    expect(append(target, [3, 4])).toBe(target);
    expect(target).toEqual([1, 2, 3, 4]);
    expect(append([], new Set(['a', 'b']))).toEqual(['a', 'b']);
    const big = Array.from({ length: MANY }, (_, i) => MANY - i);
    expect(minOf(big)).toBe(1);
    expect(minOf([])).toBe(Infinity);
    expect(minOf([3, -Infinity, 2])).toBe(-Infinity);
  });
});
