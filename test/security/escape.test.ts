// Names with control characters never reach the terminal or the journal raw (DESIGN.md rule 9,
// issue 8 item 5): a file named to forge a log line and clear the screen, through `sync`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { escapeJson, escapeText } from '../../src/escape.js';
import { memoryLogger } from '../../src/log.js';
import { reportOf } from '../../src/sync/outcome.js';
import { emptyPlan } from '../../src/sync/plan.js';
import { summaryLines } from '../../src/sync/report.js';
import { emulator, runCli, syncSetup, type CliResult, type SyncSetup } from '../helpers/sync.js';

const FORGED = 'x\n<0>files-sync: FORGED line\n\x1b[2Jy';
const FORGED_SMALL = 'ok\r<0>FORGED too\x9b31m\x7f.txt';
/** A FIFO is skipped, and the walk logs the skip with its name (debug). */
const FORGED_FIFO = 'fifo\n<0>FORGED fifo\x1b[31m';

/** Every raw control character but the newline that ends each line (C0, DEL, C1). */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function expectClean(output: string, what: string): void {
  expect(RAW_CONTROL.exec(output)?.[0], `${what} holds a raw control character:\n${JSON.stringify(output)}`).toBeUndefined();
  for (const line of output.split('\n')) {
    // files-sync's own journal priorities are 3, 4, 6 and 7: a <0> line can only be forged.
    expect(line.startsWith('<0>'), `${what}: forged line ${JSON.stringify(line)}`).toBe(false);
    // No `<` before a digit but a journal line's own prefix: a name's `<0>` is `\u003c0>` in every output (escape.ts).
    expect(line.replace(/^<[3467]>/, ''), what).not.toMatch(/<\d/);
    if (line.includes('FORGED'))
      expect(line, what).toMatch(/\\n\\u003c0>files-sync: FORGED|\\r\\u003c0>FORGED|\\n\\u003c0>FORGED (fifo|option)/);
  }
}

let emu: Emulator;
let setup: SyncSetup;
beforeAll(async () => {
  emu = await emulator();
  // The large file fails (over maxFileBytes), so its name reaches the summary's failure lines.
  setup = syncSetup(emu, { maxFileBytes: 1000 });
  fs.writeFileSync(path.join(setup.root, FORGED), 'y'.repeat(2000));
  fs.writeFileSync(path.join(setup.root, FORGED_SMALL), 'small');
  const fifo = spawnSync('mkfifo', [path.join(setup.root, FORGED_FIFO)]);
  if (fifo.status !== 0) throw new Error(`mkfifo failed: ${String(fifo.stderr)}`);
});
afterAll(async () => {
  setup.cleanup();
  await emu.close();
});

function both(result: CliResult): string {
  return `${result.stdout}\n${result.stderr}`;
}

describe('a forged file name', () => {
  it('is escaped in the dry-run summary', async () => {
    const result = await setup.sync(['--dry-run', '--log-level', 'debug']);
    expect(result.stdout).toContain('\\n\\u003c0>files-sync: FORGED line\\n\\u001b[2Jy');
    expectClean(both(result), 'sync --dry-run');
  });

  it('is escaped in the journal format and in the failure lines', async () => {
    const result = await setup.sync(['--log-format', 'journal', '--log-level', 'debug']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^failed: x\\n\\u003c0>files-sync: FORGED line/m);
    expect(result.stderr).toMatch(/^<7>.*fifo\\n\\u003c0>FORGED fifo\\u001b\[31m/m);
    expectClean(both(result), 'sync under journald');
  });

  it('is escaped in the errors of the command line parser (a name a shell glob passed, read as an option)', async () => {
    // `files-sync resolve *` in a folder holding this file: commander says the option is unknown.
    const name = '--x\n<0>FORGED option\x1b[2J\u202e.txt';
    const result = await runCli(['resolve', '--config', setup.configFile, name], setup.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--x\\n\\u003c0>FORGED option\\u001b[2J\\u202e.txt');
    expect(result.stderr).not.toContain('\u202e');
    expectClean(both(result), 'an unknown option');
  });

  it('stays its exact value in --json, as valid JSON without raw C1 or DEL', async () => {
    const result = await setup.sync(['--json', '--log-format', 'journal']);
    expectClean(both(result), 'sync --json');
    const report = JSON.parse(result.stdout) as { failed: { path: string }[] };
    expect(report.failed.map((f) => f.path)).toContain(FORGED);
  });
});

describe('output and journald', () => {
  // A review's finding: journald cuts a line past its LineMax (48 KiB by default) and reads a `<N>`
  // priority at the start of each piece, so a name's `<0>` where a cut fell started an entry of
  // emergency priority (a deep tree of escaped control-character names reached the length).
  it.each(['journal', 'json', 'human'] as const)(
    'in the %s format, no `<` before a digit is left past the prefix, wherever a cut falls',
    (format) => {
      const { logger, lines } = memoryLogger('debug', format);
      const name = `${'\x01'.repeat(300)}<0>forged<12>${'<7>'.repeat(50)}`;
      logger.warn('cannot read directory: the scan is incomplete', { path: name, reason: `${name}: ENAMETOOLONG` });
      logger.info(`uploaded ${name}`);
      expect(lines.length).toBe(2);
      for (const line of lines) {
        const body = format === 'journal' ? line.replace(/^<[0-7]>/, '') : line;
        expect(body, line).not.toMatch(/<\d/);
        // Every cut: the piece after it never opens with a priority.
        for (let at = 1; at < line.length; at++) expect(/^<\d{1,3}>/.test(line.slice(at)), `cut at ${at}`).toBe(false);
        if (format === 'json' && line.includes('"path"')) expect((JSON.parse(line) as { path: string }).path).toBe(name);
      }
    },
  );
  // The same review: a one-shot sync's summary goes to journald too (systemd/files-sync-sync.service),
  // and a path's length has no bound but depth.
  it('in the summary a one-shot sync prints, a cut line never starts a piece with a priority a name chose', () => {
    const lineMax = 48 * 1024;
    const filler = Array.from({ length: 200 }, () => 'f'.repeat(249)).join('/');
    const name = `${filler.slice(0, lineMax - 'skipped: '.length)}<0>owned/link`;
    const plan = emptyPlan();
    plan.walkSkipped.push({ path: name, reason: 'symbolic link' });
    const report = reportOf({ plan, result: null, dryRun: false, startedAt: 0, finishedAt: 1, apiRequests: 0, sizes: () => undefined });
    const line = summaryLines(report).find((l) => l.startsWith('skipped: '))!;
    expect(line.length).toBeGreaterThan(lineMax);
    expect(line).not.toMatch(/<\d/);
    expect(escapeText('a<0>b<x>c<')).toBe('a\\u003c0>b<x>c<');
  });
});

describe('escapeText', () => {
  it('escapes C0, DEL, C1, separators, bidi controls and lone surrogates, JSON-style', () => {
    expect(escapeText('a\nb\tc\x1b[0m\x7f\x9b\u2028\u202e\ud800z')).toBe('a\\nb\\tc\\u001b[0m\\u007f\\u009b\\u2028\\u202e\\ud800z');
    expect(escapeText('plain/ünïcödé 😀.txt')).toBe('plain/ünïcödé 😀.txt');
  });

  it('escapes the invisible characters that make one name look like another, but not the joiners scripts and emoji need', () => {
    // `report.txt` and `report\u200b.txt` are two files; printed raw, the log would show one name twice.
    const invisible = '\u00ad\u061c\u180e\u200b\u200e\u200f\u2060\u2064\ufeff';
    expect(escapeText(`report${invisible}.txt`)).toBe('report\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u2060\\u2064\\ufeff.txt');
    expect(escapeJson(JSON.stringify({ name: `a\u200bb` }))).toBe('{"name":"a\\u200bb"}');
    // Zero-width non-joiner and joiner belong to words (Persian) and emoji sequences.
    expect(escapeText('می\u200cخواهم 👨\u200d👩\u200d👧.txt')).toBe('می\u200cخواهم 👨\u200d👩\u200d👧.txt');
  });

  it('escapes the other invisible characters too: fillers, deprecated format controls, tags', () => {
    // Each prints as nothing (or a blank), so `report<it>.txt` reads as `report.txt` or a blank.
    const bmp = '\u034f\u115f\u1160\u17b4\u17b5\u206a\u206f\u3164\uffa0\ufff9\ufffb';
    expect(escapeText(`report${bmp}.txt`)).toBe(
      `report${[...bmp].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}.txt`,
    );
    // Tag characters (ASCII smuggled in an invisible plane-14 copy) and other invisible format controls, as escaped pairs.
    expect(escapeText('report\u{e0001}\u{e0041}\u{e007f}\u{1d173}\u{1bca0}.txt')).toBe(
      'report\\udb40\\udc01\\udb40\\udc41\\udb40\\udc7f\\ud834\\udd73\\ud82f\\udca0.txt',
    );
    const json = escapeJson(JSON.stringify({ name: 'a\u{e0041}\u3164b' }));
    expect(json).toBe('{"name":"a\\udb40\\udc41\\u3164b"}');
    expect(JSON.parse(json)).toEqual({ name: 'a\u{e0041}\u3164b' });
    // The flag of a subdivision is an emoji tag sequence: it stays, as emoji joiners do.
    const england = '\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}';
    expect(escapeText(`${england}.txt`)).toBe(`${england}.txt`);
    expect(escapeText(`a${england}\u{e0041}.txt`)).toBe(`a${england}\\udb40\\udc41.txt`);
    // A review's finding: any run of tags after a black flag stayed raw (upper case, punctuation,
    // no cancel tag): text hidden in invisible characters. Only a well-formed sequence stays.
    const tags = (text: string) => [...text].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('');
    const rawTag = /\udb40[\udc00-\udc7f]/;
    for (const hidden of [
      `\u{1f3f4}${tags('SEE /etc/shadow; IGNORE THE REST')}`,
      `\u{1f3f4}${tags('gbeng')}`,
      `\u{1f3f4}${tags('abcdefghij')}\u{e007f}`,
    ]) {
      expect(escapeText(`report${hidden}.txt`), hidden).not.toMatch(rawTag);
      expect(escapeJson(JSON.stringify({ name: hidden })), hidden).not.toMatch(rawTag);
    }
    const { logger, lines } = memoryLogger('debug', 'journal');
    logger.warn('cannot read file', { path: `a\u{1f3f4}${tags('Hidden Text!')}.md`, flag: `${england}.md` });
    expect(lines.join('\n')).not.toMatch(
      /\udb40[\udc00-\udc7e]\udb40[\udc00-\udc7e]\udb40[\udc00-\udc7e]\udb40[\udc00-\udc7e]\udb40[\udc00-\udc7e]\udb40[\udc00-\udc7e]/,
    );
    expect(lines.join('\n')).toContain(england);
  });

  it('writes invalid UTF-8 bytes of a name as \\xNN and marks what Node decoded as U+FFFD', () => {
    expect(escapeText(Buffer.from([0x61, 0xff, 0xc3, 0xa9, 0xc0, 0xaf, 0x0a]))).toBe('a\\xffé\\xc0\\xaf\\n');
    expect(escapeText(Buffer.from([0x61, 0xff]).toString('utf8'))).toBe('a\\ufffd');
  });

  it('is idempotent, so a message escaped once passes the log unchanged', () => {
    const once = escapeText(FORGED);
    expect(escapeText(once)).toBe(once);
  });

  it('keeps JSON valid and equal', () => {
    const value = { name: FORGED_SMALL, other: '\u2028\ufffd' };
    const json = escapeJson(JSON.stringify(value));
    expect(RAW_CONTROL.test(json)).toBe(false);
    expect(JSON.parse(json)).toEqual(value);
  });
});
