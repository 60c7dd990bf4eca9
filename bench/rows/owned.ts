// Row 7: a no-op reconcile of 300 owned files in a workspace of 20,000 foreign ones, under each
// contract: GA looks the 300 ids up (3 requests), the beta lists the whole workspace (21 pages).
import { join } from 'node:path';
import { Emulator, routeRequests, totalRequests } from '../lib/emulator.js';
import { runSync, writeConfig } from '../lib/filesync.js';
import { context, fmt, judged, median, seconds, type Figure } from '../lib/stats.js';
import { makeSmallTree, tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

const OWNED = 300;
const SEED_CONCURRENCY = 32;

/** Seeds `count` small foreign files through the emulator's seed route. */
async function seedForeign(url: string, count: number): Promise<void> {
  let next = 0;
  const body = (i: number) =>
    JSON.stringify({ filename: `foreign-${i}.txt`, content_base64: Buffer.from(`foreign ${i}`).toString('base64') });
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${url}/_emulator/seed`, {
        method: 'POST',
        body: body(i),
        headers: { 'content-type': 'application/json' },
      });
      if (!res.ok) throw new Error(`seed ${i}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
}

interface ContractRun {
  contract: 'ga' | 'beta';
  wallMs: number[];
  requests: number[];
  lists: number[];
  lookups: number[];
}

async function measure(ctx: RowContext, contract: 'ga' | 'beta', foreign: number): Promise<ContractRun> {
  const dir = tempDir(`owned-${contract}`);
  const tree = makeSmallTree(join(dir, 'root'), OWNED, 1024);
  const api = contract === 'ga' ? { contract: 'ga', version: '2026-10-21' } : { contract: 'beta', version: '2023-06-01' };
  const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000, api });
  const stateDir = join(dir, 'state');
  const emu = await Emulator.start();
  try {
    const t = performance.now();
    await seedForeign(emu.url, foreign);
    ctx.log(`row 7 (${contract}): ${fmt(foreign)} foreign files seeded in ${seconds(performance.now() - t, 1)}`);
    const initial = await runSync({ url: emu.url, root: tree.root, stateDir, config });
    if (initial.report.uploaded !== OWNED) throw new Error(`initial sync uploaded ${initial.report.uploaded} of ${OWNED}`);
    const out: ContractRun = { contract, wallMs: [], requests: [], lists: [], lookups: [] };
    for (let i = 0; i < ctx.runs; i++) {
      await emu.resetCounters();
      const run = await runSync({ url: emu.url, root: tree.root, stateDir, config });
      if (run.report.uploaded !== 0 || run.report.unchanged !== OWNED)
        throw new Error(`no-op sync did something: ${JSON.stringify(run.report).slice(0, 300)}`);
      const counters = await emu.counters();
      out.wallMs.push(run.measured.wallMs);
      out.requests.push(totalRequests(counters));
      out.lists.push(routeRequests(counters, 'GET /v1/files'));
      out.lookups.push(routeRequests(counters, 'GET /v1/files?ids[]'));
      ctx.log(
        `row 7 (${contract}) run ${i + 1}: ${fmt(run.measured.wallMs)} ms, ${out.requests.at(-1)} requests (${out.lists.at(-1)} list, ${out.lookups.at(-1)} ids[])`,
      );
    }
    return out;
  } finally {
    await emu.stop();
  }
}

export async function rowOwned(ctx: RowContext): Promise<RowResult> {
  const foreign = ctx.scale(20_000);
  const ga = await measure(ctx, 'ga', foreign);
  const beta = await measure(ctx, 'beta', foreign);
  const lookups = Math.ceil(OWNED / 100);
  const pages = Math.ceil((foreign + OWNED) / 1000);
  const figures: Figure[] = [
    judged(
      7,
      'GA: requests per no-op reconcile (most of any run)',
      Math.max(...ga.requests),
      `${fmt(Math.max(...ga.requests))} (${fmt(Math.max(...ga.lookups))} ids[], ${fmt(Math.max(...ga.lists))} list)`,
      '==',
      lookups,
      `= ${lookups} ids[] look-ups`,
    ),
    context(7, 'GA: no-op reconcile wall time (median)', median(ga.wallMs), seconds(median(ga.wallMs))),
    judged(
      7,
      'beta: requests per no-op reconcile (most of any run)',
      Math.max(...beta.requests),
      `${fmt(Math.max(...beta.requests))} (${fmt(Math.max(...beta.lists))} list)`,
      '==',
      pages,
      `= ${pages} list pages`,
    ),
    context(7, 'beta: no-op reconcile wall time (median)', median(beta.wallMs), seconds(median(beta.wallMs))),
  ];
  return {
    row: 7,
    title: `No-op reconcile, ${fmt(OWNED)} owned in ${fmt(foreign)}`,
    figures,
    raw: { owned: OWNED, foreign, ga, beta },
    notes: [
      'Each contract gets its own emulator seeded with the foreign files through its seed route, one initial sync of 300 files of 1 KiB, then no-op runs. GA looks the owned ids up 100 at a time (ids[]), since that is cheaper than listing the workspace whose size the initial sync saw; the beta has no look-up and pages through the whole listing (1,000 a page).',
    ],
  };
}
