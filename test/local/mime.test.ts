// MIME types from extensions, the override table and the text sniff.
import { describe, expect, it } from 'vitest';
import { SNIFF_BYTES, looksLikeText, mimeTypeFor } from '../../src/local/mime.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('mimeTypeFor by extension', () => {
  const table: [string, string][] = [
    ['notes.md', 'text/plain'],
    ['report.pdf', 'application/pdf'],
    ['readme.txt', 'text/plain'],
    ['photo.jpg', 'image/jpeg'],
    ['photo.JPEG', 'image/jpeg'],
    ['shot.png', 'image/png'],
    ['anim.gif', 'image/gif'],
    ['pic.webp', 'image/webp'],
    ['data.csv', 'text/csv'],
    ['data.json', 'application/json'],
    ['page.html', 'text/html'],
    ['doc.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['archive.zip', 'application/zip'],
    // Overrides: mime-types says video/mp2t, application/rls-services+xml, application/x-sh…
    ['src/index.ts', 'text/plain'],
    ['src/App.tsx', 'text/plain'],
    ['mod.mts', 'text/plain'],
    ['main.py', 'text/plain'],
    ['lib.rs', 'text/plain'],
    ['main.go', 'text/plain'],
    ['Main.java', 'text/plain'],
    ['a.c', 'text/plain'],
    ['a.h', 'text/plain'],
    ['run.sh', 'text/plain'],
    ['conf.yaml', 'text/plain'],
    ['conf.yml', 'text/plain'],
    ['Cargo.toml', 'text/plain'],
    ['setup.ini', 'text/plain'],
    ['server.log', 'text/plain'],
    ['app.js', 'text/plain'],
    ['dir.with.dots/file', 'application/octet-stream'], // the extension is the last segment's
  ];
  for (const [path, type] of table) {
    it(`${path} → ${type}`, () => expect(mimeTypeFor(path)).toBe(type));
  }

  it('never adds parameters', () => {
    for (const [path] of table) expect(mimeTypeFor(path)).not.toContain(';');
  });

  it('prefers the extension over the content', () => {
    expect(mimeTypeFor('x.pdf', utf8('just text'))).toBe('application/pdf');
    expect(mimeTypeFor('x.md', new Uint8Array([0, 1, 2]))).toBe('text/plain');
  });
});

describe('mimeTypeFor sniff (unknown or no extension)', () => {
  const table: [string, string, Uint8Array | undefined][] = [
    ['Makefile', 'text/plain', utf8('all:\n\tcc main.c\n')],
    ['.bashrc', 'text/plain', utf8('export PATH=$HOME/bin:$PATH\n')],
    ['notes.unknownext', 'text/plain', utf8('h\u00e9llo w\u00f6rld \u2603 \ud83d\ude00')],
    ['empty', 'text/plain', new Uint8Array(0)],
    ['blob', 'application/octet-stream', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1])],
    ['latin1', 'application/octet-stream', new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a])],
    ['nul', 'application/octet-stream', utf8('text\u0000more')],
    ['no-head', 'application/octet-stream', undefined],
  ];
  for (const [path, type, head] of table) {
    it(`${path} → ${type}`, () => expect(mimeTypeFor(path, head)).toBe(type));
  }

  it('accepts a multi-byte character cut by the end of the head', () => {
    const text = 'a'.repeat(SNIFF_BYTES - 1) + '\u00e9'; // é is 2 bytes: the head ends mid-character
    const head = utf8(text).subarray(0, SNIFF_BYTES);
    expect(looksLikeText(head)).toBe(true);
    expect(mimeTypeFor('README', head)).toBe('text/plain');
  });

  it('looks only at the first SNIFF_BYTES', () => {
    const bytes = new Uint8Array(SNIFF_BYTES + 10).fill(0x61);
    bytes[SNIFF_BYTES + 5] = 0;
    expect(mimeTypeFor('LICENSE', bytes)).toBe('text/plain');
  });
});
