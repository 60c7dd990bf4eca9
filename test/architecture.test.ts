// The module graph of src/: every import (value, type or dynamic) points down the layers, so no
// import circle can form and the daemon never reaches back into the command layer (docs/DESIGN.md,
// "Layers"). ESLint's import-x/no-cycle catches value cycles; this test also sees type-only and
// dynamic imports, which that rule skips.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'src');

/** Layers, top first: a module may import its own layer's modules or any layer below it. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'demo', 'launch'],
  ['commands'],
  ['daemon'],
  ['sync'],
  ['app'],
  ['local', 'remote', 'ledger', 'emulator'],
  ['base'],
];

/** The layer unit of a file: its folder under src/, `commands` for src/commands*, or `base`. */
function unitOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  if (rel.length > 1) return rel[0]!;
  const name = rel[0]!.replace(/\.ts$/, '');
  if (name === 'cli' || name === 'demo' || name === 'app') return name;
  if (name === 'files-sync') return 'launch'; // the command's entry: loads the bundle (launch/load.ts)
  if (name.startsWith('commands')) return 'commands';
  return 'base';
}

function rankOf(unit: string): number {
  const rank = LAYERS.findIndex((layer) => layer.includes(unit));
  if (rank < 0) throw new Error(`src/${unit} is in no layer: add it to LAYERS`);
  return rank;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(abs);
    return e.name.endsWith('.ts') ? [abs] : [];
  });
}

/** Every relative import of a file (static, type-only, re-export or dynamic), resolved to a .ts file. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')));
}

const graph = new Map(sourceFiles(SRC).map((f) => [f, importsOf(f)] as const));
const rel = (f: string): string => path.relative(SRC, f);

describe('module graph of src/', () => {
  it('every import resolves to a file', () => {
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${rel(f)} -> ${rel(d)}`));
    expect(missing).toEqual([]);
  });

  it('every import points to its own layer or one below', () => {
    const upward = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => rankOf(unitOf(d)) < rankOf(unitOf(f))).map((d) => `${rel(f)} (${unitOf(f)}) -> ${rel(d)} (${unitOf(d)})`),
    );
    expect(upward).toEqual([]);
  });

  it('the lower layers do not import each other', () => {
    const lower = new Set(['local', 'remote', 'ledger', 'emulator']);
    const across = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => lower.has(unitOf(f)) && lower.has(unitOf(d)) && unitOf(f) !== unitOf(d)).map((d) => `${rel(f)} -> ${rel(d)}`),
    );
    expect(across).toEqual([]);
  });

  it('has no import circle, type-only and dynamic imports included', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map(rel).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('sees the imports it checks (the checker can fail)', () => {
    const cli = graph.get(path.join(SRC, 'cli.ts')) ?? [];
    expect(cli.length).toBeGreaterThan(0);
    expect(rankOf(unitOf(path.join(SRC, 'daemon', 'x.ts')))).toBeLessThan(rankOf(unitOf(path.join(SRC, 'sync', 'x.ts'))));
  });
});
