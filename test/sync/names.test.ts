// Remote filenames derived from relative paths: valid, readable, stable, shortened with a hash.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_REMOTE_NAME, SEPARATOR, isValidRemoteName, remoteName, remoteNameInFull } from '../../src/sync/names.js';

const codePoints = (s: string) => Array.from(s).length;
const hash8 = (p: string) => createHash('sha256').update(p, 'utf8').digest('hex').slice(0, 8);

describe('isValidRemoteName', () => {
  const table: [string, boolean][] = [
    ['a', true],
    ['report.pdf', true],
    ['docs\u2215intro.md', true],
    ['caf\u00e9 \ud83d\ude00.txt', true],
    ['x'.repeat(255), true],
    ['\ud83d\ude00'.repeat(255), true], // 255 code points, 510 UTF-16 units
    ['', false],
    ['x'.repeat(256), false],
    ['\ud83d\ude00'.repeat(256), false],
    ...['<', '>', ':', '"', '|', '?', '*', '\\', '/'].map((c): [string, boolean] => [`a${c}b`, false]),
    ...Array.from({ length: 32 }, (_, i): [string, boolean] => [`a${String.fromCharCode(i)}b`, false]),
    ['a\u007fb', true], // DEL is not on the API's list
  ];
  for (const [name, valid] of table) {
    it(`${JSON.stringify(name).slice(0, 40)} → ${valid}`, () => expect(isValidRemoteName(name)).toBe(valid));
  }
});

describe('remoteName', () => {
  const table: [string, string][] = [
    ['notes.md', 'notes.md'],
    ['docs/guide/intro.md', 'docs\u2215guide\u2215intro.md'],
    ['my notes/a b.txt', 'my notes\u2215a b.txt'],
    ['a<b>c:d"e|f?g*h\\i.txt', 'a_b_c_d_e_f_g_h_i.txt'],
    ['tab\there/new\nline.txt', 'tab_here\u2215new_line.txt'],
    ['del\u007f/c1\u0085.txt', 'del_\u2215c1_.txt'],
    ['lone\ud800surrogate', 'lone_surrogate'],
    ['caf\u00e9/menu.md', 'caf\u00e9\u2215menu.md'], // NFC kept
    ['cafe\u0301/menu.md', 'cafe\u0301\u2215menu.md'], // NFD kept: no normalisation
    ['\ud83d\ude00/\u65e5\u672c\u8a9e.txt', '\ud83d\ude00\u2215\u65e5\u672c\u8a9e.txt'],
    ['a//b', 'a\u2215b'], // empty segments dropped
    ['/a/b/', 'a\u2215b'],
    ['...', '___'], // only dots
    ['..', '__'],
    ['', '_'],
    ['/', '_'],
    ['a/../b', 'a\u2215..\u2215b'], // dots inside a longer name are harmless
    ['.hidden/.env', '.hidden\u2215.env'],
    ['a\u2215b', 'a\u2215b'], // a real U+2215 in a name looks like a separator: allowed, the ledger maps
  ];
  for (const [path, name] of table) {
    it(`${JSON.stringify(path)} → ${JSON.stringify(name)}`, () => {
      expect(remoteName(path)).toBe(name);
      expect(isValidRemoteName(remoteName(path))).toBe(true);
    });
  }

  it('uses U+2215 as the separator', () => {
    expect(SEPARATOR).toBe('\u2215');
    expect(SEPARATOR.normalize('NFKC')).toBe(SEPARATOR);
  });

  it('replaces every forbidden character and every C0 control', () => {
    for (const c of ['<', '>', ':', '"', '|', '?', '*', '\\', ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i))]) {
      const name = remoteName(`x${c}y`);
      expect(name).toBe('x_y');
    }
  });

  it('leaves a name of exactly 255 characters alone and shortens one of 256', () => {
    const p255 = 'a'.repeat(251) + '.txt';
    expect(remoteName(p255)).toBe(p255);
    const p256 = 'a'.repeat(252) + '.txt';
    const n = remoteName(p256);
    expect(n).not.toBe(p256);
    expect(n.length).toBeLessThanOrEqual(MAX_REMOTE_NAME);
    expect(n).toContain(hash8(p256));
    expect(n.endsWith('.txt')).toBe(true);
  });

  describe('long paths', () => {
    const deep = Array.from({ length: 12 }, (_, i) => `folder-number-${i}-with-a-long-name`).join('/');
    const long1 = `${deep}/chapter-one-final.md`;
    const long2 = `${deep}/chapter-two-final.md`;

    it('are shortened to at most 255 code points, keeping start, end and extension', () => {
      const n = remoteName(long1);
      expect(codePoints(n)).toBeLessThanOrEqual(MAX_REMOTE_NAME);
      expect(n.length).toBeLessThanOrEqual(MAX_REMOTE_NAME); // UTF-16 units too
      expect(isValidRemoteName(n)).toBe(true);
      expect(n.startsWith('folder-number-0-with-a-long-name\u2215folder-number-1')).toBe(true);
      expect(n.endsWith('\u2215chapter-one-final.md')).toBe(true);
      expect(n).toContain(`\u22ef${hash8(long1)}\u22ef`);
    });

    it('are stable and distinct for paths with a common prefix', () => {
      expect(remoteName(long1)).toBe(remoteName(long1));
      expect(remoteName(long1)).not.toBe(remoteName(long2));
      // Same head and tail, different middle: only the hash tells them apart.
      const a = `${'x'.repeat(300)}/${'m'.repeat(50)}/${'y'.repeat(100)}.txt`;
      const b = `${'x'.repeat(300)}/${'n'.repeat(50)}/${'y'.repeat(100)}.txt`;
      expect(remoteName(a)).not.toBe(remoteName(b));
    });

    it('hash the raw path, so paths that sanitise alike still differ when long', () => {
      const a = `${'d'.repeat(300)}/a:b.txt`;
      const b = `${'d'.repeat(300)}/a_b.txt`;
      expect(remoteName(a)).not.toBe(remoteName(b));
    });

    it('count astral characters safely and never split a surrogate pair', () => {
      const p = `${'\ud83d\ude00'.repeat(200)}/${'\ud83c\udf89'.repeat(100)}.md`;
      const n = remoteName(p);
      expect(n.length).toBeLessThanOrEqual(MAX_REMOTE_NAME);
      expect(isValidRemoteName(n)).toBe(true);
      expect(n).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      expect(n.endsWith('\ud83c\udf89.md')).toBe(true);
    });

    it('drop an absurdly long extension rather than keep it whole', () => {
      const ext = `.${'e'.repeat(300)}`;
      const n = remoteName(`file${ext}`);
      expect(n.length).toBeLessThanOrEqual(MAX_REMOTE_NAME);
      expect(n.startsWith('file.eee')).toBe(true);
      expect(isValidRemoteName(n)).toBe(true);
    });

    it('keep an extension of up to 16 characters whole', () => {
      const n = remoteName(`${'z'.repeat(400)}.abcdefghijklmnop`);
      expect(n.endsWith('z.abcdefghijklmnop')).toBe(true);
      expect(n.length).toBe(MAX_REMOTE_NAME);
    });

    it('do not take a dotfile name for an extension', () => {
      const n = remoteName(`${'q'.repeat(400)}/.bashrc`);
      expect(n.endsWith('\u2215.bashrc')).toBe(true);
    });
  });

  it('always yields a valid name (random strings)', () => {
    // A small deterministic generator (mulberry32), so failures reproduce.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const alphabet = [
      'a',
      'Z',
      '0',
      '.',
      ' ',
      '/',
      '/',
      '-',
      '_',
      '<',
      '>',
      ':',
      '"',
      '|',
      '?',
      '*',
      '\\',
      '\u0000',
      '\u001f',
      '\n',
      '\u007f',
      '\u0085',
      '\u00e9',
      'e\u0301',
      '\u2215',
      '\u22ef',
      '\u65e5',
      '\ud83d\ude00',
      '\ud800',
      '\udc00',
    ];
    const seen = new Map<string, string>();
    let shortened = 0;
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(random() ** 3 * 700);
      let path = '';
      for (let j = 0; j < length; j++) path += alphabet[Math.floor(random() * alphabet.length)]!;
      const name = remoteName(path);
      expect(isValidRemoteName(name), JSON.stringify(path)).toBe(true);
      expect(name.length).toBeLessThanOrEqual(MAX_REMOTE_NAME);
      expect(/^\.*$/.test(name)).toBe(false);
      expect(remoteName(path)).toBe(name);
      if (name.includes(`\u22ef${hash8(path)}\u22ef`)) {
        shortened++;
        const other = seen.get(name);
        if (other !== undefined && other !== path) expect.fail(`two long paths share ${name}`);
        seen.set(name, path);
      }
    }
    expect(shortened).toBeGreaterThan(100);
  });
});

// remoteName takes a fast path for plain ASCII paths (issue 13, per-file cost); it must give
// exactly what the full rule gives, for every path, plain or not.
describe('remoteName fast path', () => {
  it('equals the full rule on every printable ASCII character, at every place in a path, and at the length limit', () => {
    const paths: string[] = ['.', '..', '...', './a', 'a/./b', '../x', 'a//b', '/a', 'a/', '.hidden', 'x'.repeat(255), 'x'.repeat(256)];
    for (let c = 0; c < 0x80; c++) {
      const ch = String.fromCharCode(c);
      paths.push(ch, `a${ch}b`, `${ch}/b`, `a/${ch}`, `dir/x${ch}y.txt`, `${'y'.repeat(254)}${ch}`);
    }
    paths.push('caf\u00e9.txt', 'a\u2215b', 'a\u0085b', '\ud800x', `${'z'.repeat(200)}/${'w'.repeat(60)}.md`);
    for (const p of paths) expect(remoteName(p), JSON.stringify(p)).toBe(remoteNameInFull(p));
  });

  it('equals the full rule on random paths of printable ASCII and slashes', () => {
    let seed = 13;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      const length = 1 + (next() % 300);
      let p = '';
      for (let j = 0; j < length; j++) p += next() % 8 === 0 ? '/' : String.fromCharCode(0x20 + (next() % 95));
      expect(remoteName(p), JSON.stringify(p)).toBe(remoteNameInFull(p));
    }
  });
});
