// The path filter: default excludes, include/exclude globs, the ignore file, the state directory.
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXCLUDES, createFilter, filterHash } from '../../src/local/filter.js';
import ignore from 'ignore';
import { MAX_STAR_WEIGHT, collapseStars, globTooCostly } from '../../src/glob-cost.js';
import type { FilterOptions } from '../../src/local/types.js';

const base: FilterOptions = { include: [], exclude: [] };

interface Case {
  name: string;
  options?: Partial<FilterOptions>;
  /** Paths (a trailing `/` marks a directory) and whether each is synced. */
  paths: Record<string, boolean>;
}

const cases: Case[] = [
  {
    name: 'defaults: editor, temp and office files are excluded at any depth',
    paths: {
      'notes.md': true,
      'notes.md~': false,
      'docs/notes.md~': false,
      '.notes.md.swp': false,
      'a/.notes.md.swo': false,
      '.notes.md.swx': false,
      '#notes.md#': false,
      '.#notes.md': false,
      'notes.md.kate-swp': false,
      'video.mp4.part': false,
      'video.mp4.crdownload': false,
      '.~lock.report.odt#': false,
      '~$report.docx': false,
      'x/~$report.docx': false,
      '.goutputstream-ABC123': false,
      '.nfs000000000001': false,
      '.DS_Store': false,
      'photos/.DS_Store': false,
      'Thumbs.db': false,
      '.filesyncignore': false,
      'sub/.filesyncignore': false,
      // Near misses stay.
      'notes.swp': true,
      'partial.md': true,
      part: true,
      '.gitignore': true,
      'a~b.txt': true,
      'thumbs.db': true, // case-sensitive, as git on Linux
      'docs/': true,
    },
  },
  {
    name: 'exclude globs in gitignore syntax',
    options: { exclude: ['*.log', 'build/', '/top.txt', 'cache/**/*.bin'] },
    paths: {
      'app.log': false,
      'deep/er/app.log': false,
      'build/': false,
      'build/out.js': false,
      'src/build/': false,
      'src/build/x.js': false,
      build: true, // a file named build: `build/` matches directories only
      'top.txt': false,
      'sub/top.txt': true, // anchored
      'cache/a/b/c.bin': false,
      'cache/a/b/c.txt': true,
      'readme.md': true,
    },
  },
  {
    name: 'include globs: files must match one, directories are still entered',
    options: { include: ['*.md', 'docs/**/*.pdf', '/TODO', './notes/*.txt'] },
    paths: {
      TODO: true,
      'sub/TODO': false, // anchored by the leading slash
      'notes/a.txt': true,
      'x/notes/a.txt': false,
      'readme.md': true,
      'a/b/c.md': true, // a glob without a slash matches the basename at any depth
      '.github/notes.md': true, // dotfiles match
      'docs/x/y.pdf': true,
      'y.pdf': false,
      'other/y.pdf': false,
      'code.ts': false,
      'anything/': true,
      'docs/': true,
    },
  },
  {
    name: 'include and exclude together: exclude wins',
    options: { include: ['*.md'], exclude: ['drafts/'] },
    paths: { 'a.md': true, 'drafts/': false, 'drafts/a.md': false, 'a.txt': false },
  },
  {
    name: '.filesyncignore with negation, comments and blank lines',
    options: { ignoreFile: '# comment\n\n*.tmp\n!keep.tmp\nsecret/\r\n*.bak\n!/important.bak\n' },
    paths: {
      'a.tmp': false,
      'keep.tmp': true,
      'x/keep.tmp': true,
      'secret/': false,
      'secret/a.txt': false,
      'x.bak': false,
      'important.bak': true,
      'dir/important.bak': false,
      '# comment': true,
    },
  },
  {
    name: 'a default can be taken back by a negation',
    options: { exclude: ['!Thumbs.db'] },
    paths: { 'Thumbs.db': true, '.DS_Store': false },
  },
  {
    name: 'a file under an excluded directory cannot be re-included (as in git)',
    options: { exclude: ['vendor/', '!vendor/keep.txt'] },
    paths: { 'vendor/': false, 'vendor/keep.txt': false },
  },
  {
    name: 'state directory inside the root is always excluded, whatever the rules say',
    options: {
      stateDirInRoot: '.files-sync/',
      include: ['**'],
      exclude: ['!.files-sync/'],
      ignoreFile: '!.files-sync\n',
    },
    paths: {
      '.files-sync/': false,
      '.files-sync/ledger.db': false,
      '.files-sync/sub/': false,
      '.files-sync-other/a.txt': true,
      'x/.files-sync/': true, // only the one at the root
    },
  },
  {
    name: 'nested state directory',
    options: { stateDirInRoot: './var/state' },
    paths: { 'var/': true, 'var/state/': false, 'var/state/x.db': false, 'var/other.txt': true },
  },
  {
    name: 'unicode, spaces and odd characters in names',
    options: { exclude: ['*.tmp', 'caf\u00e9/'] },
    paths: {
      'caf\u00e9/': false,
      'caf\u00e9/menu.md': false,
      'cafe\u0301/menu.md': true, // NFD is another name: no normalisation
      'my notes/a b.tmp': false,
      'my notes/a b.txt': true,
      'what?*:|.txt': true,
    },
  },
];

describe('createFilter', () => {
  for (const c of cases) {
    it(c.name, () => {
      const filter = createFilter({ ...base, ...c.options });
      const got: Record<string, boolean> = {};
      for (const path of Object.keys(c.paths)) {
        const isDir = path.endsWith('/');
        got[path] = filter(isDir ? path.slice(0, -1) : path, isDir);
      }
      expect(got).toEqual(c.paths);
    });
  }

  it('refuses a state directory that is not strictly inside the root', () => {
    for (const stateDirInRoot of ['', '.', './', '..', '../x', '/abs']) {
      expect(() => createFilter({ ...base, stateDirInRoot })).toThrow(/inside the sync root/);
    }
  });

  it('lists the editor and temp patterns the brief names', () => {
    for (const p of ['*~', '.*.sw?', '*.part', '*.crdownload', '.~lock.*', '~$*', '.DS_Store', 'Thumbs.db', '.filesyncignore']) {
      expect(DEFAULT_EXCLUDES).toContain(p);
    }
  });
});

describe('filterHash', () => {
  const h = (o: Partial<FilterOptions>) => filterHash({ ...base, ...o });

  it('is a stable hex sha256', () => {
    expect(h({})).toMatch(/^[0-9a-f]{64}$/);
    expect(h({ exclude: ['*.log'] })).toBe(h({ exclude: ['*.log'] }));
  });

  it('ignores what does not change the filter', () => {
    expect(h({ include: ['b', 'a'] })).toBe(h({ include: ['a', 'b', 'a'] }));
    expect(h({ ignoreFile: '# c\n\n*.tmp\r\n' })).toBe(h({ ignoreFile: '*.tmp' }));
    expect(h({ ignoreFile: '' })).toBe(h({}));
    expect(h({ stateDirInRoot: './state/' })).toBe(h({ stateDirInRoot: 'state' }));
  });

  it('changes with every rule that matters', () => {
    const hashes = [
      h({}),
      h({ include: ['*.md'] }),
      h({ exclude: ['*.md'] }),
      h({ exclude: ['a', '!b'] }),
      h({ exclude: ['!b', 'a'] }), // order decides negation
      h({ ignoreFile: '*.md' }),
      h({ stateDirInRoot: 'state' }),
    ];
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe('rules too costly to match (`**` before the last segment)', () => {
  it('a run of star-only segments matches what one `**` does; escapes are not boundaries', () => {
    expect(collapseStars('a/**/**/**/b')).toBe('a/**/b');
    expect(collapseStars('**/**/a/**/**')).toBe('**/a/**');
    expect(collapseStars('a/***/**/***/b')).toBe('a/**/b'); // `ignore` reads `***` as `**`
    expect(collapseStars('a**/**b')).toBe('a**/**b'); // not whole segments: left alone
    expect(collapseStars('a\\/**/**/b')).toBe('a\\/**/**/b'); // `\/` is a character, not a boundary
    // The filter answers as `ignore` itself does on the rule as written.
    for (const rule of ['a/**/**/b', 'a/***/b', 'a\\/**/**/b', '**/**/x', 'a/**/**']) {
      const plain = ignore({ ignorecase: false }).add([rule]);
      const filter = createFilter({ ...base, exclude: [rule] });
      for (const p of ['a/b', 'a/x/b', 'a/x/y/b', 'a/x/c', 'b/a/b', 'x', 'q/x', 'a/x', 'a/b/c']) {
        expect(filter(p, false), `${rule} on ${p}`).toBe(!plain.ignores(p));
      }
    }
  });

  it(`takes up to ${MAX_STAR_WEIGHT} before the last segment; refuses more, however spelt`, () => {
    for (const rule of ['**/node_modules/**', 'a/**/b', '/a/**/b/**/c/**', '**/a/**/b', '!**/a/**/b/**', 'a/**/**/**/b', 'a\\*\\*/b']) {
      expect(globTooCostly(rule), rule).toBeUndefined();
    }
    for (const rule of [
      '**/src/**/test/**/*.snap',
      'a/**/b/**/c/**/d',
      '!a/**/x/**/**/y/**/b',
      `a/${Array(12).fill('**').join('/x/')}/b`,
      'a/***/x/***/x/***/b',
      '\ufeff**/src/**/test/**/*.snap', // a file's byte order mark: `ignore` drops it
      '**/*/**/x', // a `*` segment beside `**` multiplies the splits (7.9 s for one path 2,000 deep)
      '*/**/*/**/*.log',
    ]) {
      expect(globTooCostly(rule), rule).toMatch(/split it into simpler rules/);
    }
    // A final `/` (folders only) costs what the rule without it does; `*` segments with no `**` are cheap.
    for (const rule of ['**/a/**/b/**/', 'docs/*/**/*.md', '*/*/*/*/x', '**/*.log']) expect(globTooCostly(rule), rule).toBeUndefined();
  });

  it('weighs include globs as picomatch reads them: braces, groups and escaped slashes hold `**` too', () => {
    for (const glob of ['docs/**', '**/*.md', 'src/**/test/**', '*.{md,txt}']) expect(globTooCostly(glob, 'include'), glob).toBeUndefined();
    for (const glob of [
      '{docs,**}/{api,**}/{v1,**}/{en,**}/*.md',
      '**\\/a\\/**\\/a\\/**\\/a\\/**\\/a\\/*.md',
      '@(**)/@(**)/@(**)/@(**)/x',
      'a/**/b/**/c/**/d',
    ]) {
      expect(globTooCostly(glob, 'include'), glob).toMatch(/split it into simpler rules/);
    }
  });

  it("refuses include globs whose matching time grows as a power of a name's length (reviews' findings)", () => {
    // picomatch's `*` is a lazy `[^/]*?`: k of them in one name backtrack ~n^(k-1) steps on a name of
    // n characters that does not match (five took 24 s on one 250-character name); k groups of
    // alternatives ~a^k (sixteen `{a,aa,aaa}` 1.4 s on 60). Extglobs are refused (and compiled
    // off), so no other loop is left: the limits hold whatever the glob's spelling.
    for (const glob of [
      '*.pdf',
      'report-*-final-*.pdf',
      '*.{md,txt}',
      'docs/**/*.md',
      '**/*-*.log',
      'docs/**/x-*',
      'a\\*\\*\\*.pdf',
      '*{a,b}*.(c|d)',
    ])
      expect(globTooCostly(glob, 'include'), glob).toBeUndefined();
    for (const glob of [
      '*-*-*.pdf',
      '*-*-*-*-*.pdf',
      '*a*a*a*a*a*a*a*b',
      'docs/*_*_*.md',
      '*-{a,b*}-*.x',
      '**a**a*a*.pdf',
      'x/a*b*c*d',
      '*.(a)*.(a)*.(a)b',
    ])
      expect(globTooCostly(glob, 'include'), glob).toMatch(/more than 2 `\*` in one name/);
    for (const glob of ['{a,aa}{a,aa}{a,aa}b', '(a|aa)(a|aa)(a|aa)b', 'x/((a|aa))((a|aa))((a|aa))b'])
      expect(globTooCostly(glob, 'include'), glob).toMatch(/more than 2 groups/);
    // gitignore rules are matched by `ignore`, whose `*` runs are linear: not refused for this.
    expect(globTooCostly('*-*-*-*-*.pdf')).toBeUndefined();
  });

  it('refuses extglobs in include globs rather than read them otherwise (a review: `!(draft).md` became "all but draft.md")', () => {
    for (const glob of ['!(draft).md', '*.@(md|txt)', '+(a).txt', '?(a).txt', '*(a).txt', 'docs/@(a|b)/*.md'])
      expect(globTooCostly(glob, 'include'), glob).toMatch(/extglob/);
    // Braces, plain groups, classes and a leading `!` (the whole glob negated) are not extglobs.
    for (const glob of ['*.{md,txt}', '(a|b).txt', '[abc].md', '!*.md', 'a\\+(b).txt', '[!(]*.md', '[@(]x'])
      expect(globTooCostly(glob, 'include'), glob).toBeUndefined();
  });

  it("keeps a byte order mark on a later line as `ignore` does (only a file's first one goes)", () => {
    expect(collapseStars('\ufeff!keep.log')).toBe('\ufeff!keep.log');
    const rules = ['*.log', '\ufeff!keep.log'];
    const plain = ignore({ ignorecase: false }).add(rules);
    const filter = createFilter({ ...base, exclude: rules });
    for (const p of ['keep.log', 'other.log', 'README.md']) expect(filter(p, false), p).toBe(!plain.ignores(p));
  });
});
