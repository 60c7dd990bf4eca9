// Medians, percentiles and the figure model: each figure is compared with its target and marked.

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1]!;
}

export type Op = '>=' | '<=' | '==';

/** One measured figure, beside its target when it has one. */
export interface Figure {
  row: number;
  name: string;
  value: number | null;
  /** How the value is shown, e.g. `0.93×`, `1,234 files/s`. */
  shown: string;
  target?: { op: Op; value: number; shown: string };
  /** Met the target? null: no target (context figure). */
  ok: boolean | null;
  note?: string;
}

/** A figure with a target. */
export function judged(
  row: number,
  name: string,
  value: number | null,
  shown: string,
  op: Op,
  target: number,
  targetShown: string,
  note?: string,
): Figure {
  const ok = value !== null && Number.isFinite(value) && (op === '>=' ? value >= target : op === '<=' ? value <= target : value === target);
  return { row, name, value, shown, target: { op, value: target, shown: targetShown }, ok, ...(note ? { note } : {}) };
}

/** A figure shown for context, with no target. */
export function context(row: number, name: string, value: number | null, shown: string, note?: string): Figure {
  return { row, name, value, shown, ok: null, ...(note ? { note } : {}) };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(n: number): string {
  return `${fmt(n, 2)}×`;
}

export function mb(bytes: number): string {
  return `${fmt(bytes / 1e6, 1)} MB`;
}

export function seconds(ms: number, digits = 2): string {
  return `${fmt(ms / 1000, digits)} s`;
}
