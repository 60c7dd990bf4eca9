import type { RowContext, RowResult } from './types.js';

export async function rowDaemon(_ctx: RowContext): Promise<RowResult> {
  throw new Error('not written yet');
}
