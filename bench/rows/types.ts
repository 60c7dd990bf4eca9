// What a row receives and returns.
import type { Figure } from '../lib/stats.js';

export interface RowContext {
  /** Runs per figure (the median is reported); at least 3. */
  runs: number;
  /** `--quick`: counts divided by ten, one run; nothing is written but a scratch JSON file. */
  quick: boolean;
  /** Scales a file count down for a quick try-out (`--quick`); identity in a real run. */
  scale(n: number): number;
  log(line: string): void;
  /** The scale row's file counts (`--scale-files 100000,1000000`; default 100,000). */
  scaleFiles?: number[];
  /** The scale row kills an initial sync after this long (`--scale-cap-minutes`, default 60). */
  scaleCapMinutes?: number;
}

export interface RowResult {
  row: number;
  title: string;
  figures: Figure[];
  /** Every run's raw numbers, for the JSON file. */
  raw: unknown;
  /** Notes for BENCHMARKS.md (how a figure was measured, why a target does not fit). */
  notes?: string[];
}
