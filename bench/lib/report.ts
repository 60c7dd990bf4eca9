// The results: the console table (each figure beside its target, misses marked), BENCHMARKS.md
// and bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RowResult } from '../rows/types.js';
import { REPO, type MachineInfo } from './env.js';
import type { Figure } from './stats.js';

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  command: string;
  runsPerFigure: number;
  machine: MachineInfo;
  rows: RowResult[];
}

function mark(f: Figure): string {
  return f.ok === null ? '' : f.ok ? '✓' : '✗';
}

/** A table cell: pipes escaped. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The one table: row, figure, measured, target, mark. */
export function markdownTable(rows: RowResult[]): string {
  const lines = ['| # | figure | measured | target | |', '| --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    for (const f of row.figures)
      lines.push(`| ${f.row} | ${cell(f.name)} | ${cell(f.shown)} | ${cell(f.target?.shown ?? '')} | ${mark(f)} |`);
  }
  return lines.join('\n');
}

/** Plain lines for the terminal. */
export function consoleLines(row: RowResult): string[] {
  const out = [`Row ${row.row}: ${row.title}`];
  for (const f of row.figures) {
    const target = f.target ? `  target ${f.target.shown}` : '';
    out.push(`  ${mark(f) || ' '} ${f.name}: ${f.shown}${target}${f.ok === false ? '  <-- MISSED' : ''}`);
  }
  return out;
}

export function writeResults(run: BenchRun, mdHead: string, mdTail: string): { md: string; json: string } {
  const dir = join(REPO, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  writeFileSync(json, `${JSON.stringify(run, null, 2)}\n`);
  const m = run.machine;
  const held = run.rows.flatMap((r) => r.figures).filter((f) => f.ok !== null);
  const md = join(REPO, 'BENCHMARKS.md');
  const text = [
    '# Benchmarks',
    '',
    mdHead.trim(),
    '',
    '## Machine and run',
    '',
    `- ${m.nproc} cores (\`nproc\`), ${m.cpuModel}, ${m.ramGiB} GiB RAM, ${m.os}`,
    `- Node ${m.node}; emulator pinned to core 0 and the client under test to core 1 ${m.taskset ? 'with `taskset`' : '(taskset missing: not pinned)'}; files in ${m.tmpdir}`,
    `- ${run.startedAt} → ${run.finishedAt} (${Math.round(run.totalSeconds)} s for the whole bench)`,
    `- Command: \`${run.command}\`; each figure is the median of ${run.runsPerFigure} runs unless its row says otherwise; ratios are taken within each run, then the median`,
    `- Raw figures of every run: \`bench/results/latest.json\``,
    '',
    '## Results',
    '',
    `${held.filter((f) => f.ok).length} of ${held.length} targets hold.`,
    '',
    markdownTable(run.rows),
    '',
    ...run.rows.flatMap((r) => (r.notes && r.notes.length > 0 ? [`**Row ${r.row}.** ${r.notes.join(' ')}`, ''] : [])),
    mdTail.trim(),
    '',
  ].join('\n');
  writeFileSync(md, text);
  return { md, json };
}
