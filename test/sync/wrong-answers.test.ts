// An API whose answers do not fit what was asked (a broken proxy, a buggy gateway): files-sync
// records nothing it cannot trust, never takes another application's file for its own (DESIGN.md
// rule 1), and ends in the exact state once the API answers right again. The emulator over HTTP
// behind a tampering proxy (test/helpers/proxy.ts), the CLI as a user runs it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { proxiedSetups } from '../helpers/proxied.js';
import type { Proxy } from '../helpers/proxy.js';
import { expectExactState, localHashes, runCli, writeTree, type SyncSetup, type TestContract } from '../helpers/sync.js';

const start = proxiedSetups();

type Meta = { id: string; filename: string; size_bytes: number };

async function sync(s: SyncSetup): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return runCli(['sync', '--config', s.configFile], s.env);
}

/** Rewrites the answer of the first upload of `filename` with `change`; later ones pass. */
function onFirstUploadOf(p: Proxy, filename: string, change: (meta: Meta) => Meta): void {
  let done = false;
  p.rewrite = ({ method, url, status, body }) => {
    if (done || method !== 'POST' || !url.startsWith('/v1/files') || status !== 200) return undefined;
    if ((body as Meta).filename !== filename) return undefined;
    done = true;
    return change(body as Meta);
  };
}

describe.each<TestContract>(['ga', 'beta'])('upload answers that name another file (%s)', (contract) => {
  it("an answer naming another application's file is not recorded, and that file is never deleted", async () => {
    const { emu, proxy, setup } = await start(contract);
    const foreign = emu.seed({ filename: 'payroll.pdf', content_base64: Buffer.from('%PDF-1.4 salaries').toString('base64') });
    writeTree(setup.root, { 'a.txt': 'hello', 'keep.txt': 'kept' });
    const theirs = { ...foreign, type: 'file', scope: null, owner: undefined, sha256: undefined };
    onFirstUploadOf(proxy, 'a.txt', () => theirs);
    const first = await sync(setup);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/malformed upload answer from the Files API: filename is not "a\.txt", the name sent/);
    proxy.rewrite = undefined;
    // The copy the API stored is found as an orphan and taken; then the file goes, and its copy with it.
    const second = await sync(setup);
    expect(second.code, second.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
    fs.rmSync(path.join(setup.root, 'a.txt'));
    expect((await sync(setup)).code).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
    expect(proxy.seen).not.toContain(`DELETE /v1/files/${foreign.id}`);
  });

  it('an answer with fewer bytes than were sent is not recorded as the copy', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'twelve bytes' });
    onFirstUploadOf(proxy, 'a.txt', (meta) => ({ ...meta, size_bytes: 3 }));
    const first = await sync(setup);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/size_bytes is not 12, the bytes sent/);
    proxy.rewrite = undefined;
    expect((await sync(setup)).code).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('an answer naming a copy the ledger already holds is refused without a crash', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo' });
    expect((await sync(setup)).code).toBe(0);
    const aId = emu.state().files.find((f) => f.filename === 'a.txt')!.id;
    writeTree(setup.root, { 'b.txt': 'bravo, edited' });
    onFirstUploadOf(proxy, 'b.txt', (meta) => ({ ...meta, id: aId }));
    const second = await sync(setup);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`id is not a new file id (${aId} is one files-sync already holds)`);
    expect(second.stderr).not.toMatch(/unexpected error|SqliteError/);
    proxy.rewrite = undefined;
    const third = await sync(setup);
    expect(third.code, third.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });
});

/** Is this the first page of a listing (not a look-up, not a later page)? */
function firstListPage(method: string, url: string): boolean {
  return method === 'GET' && /^\/v1\/files\?/.test(url) && !/after_id|page=|ids/.test(url);
}

describe.each<TestContract>(['ga', 'beta'])('upload answers that reuse an id (%s)', (contract) => {
  it('two answers of one run naming the same id: the second is refused, with no crash', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.txt`, `file ${i}`])));
    let first: string | undefined;
    let reused = false;
    proxy.rewrite = ({ method, url, status, body }) => {
      if (method !== 'POST' || !url.startsWith('/v1/files') || status !== 200) return undefined;
      if (first === undefined) {
        first = (body as Meta).id;
        return undefined;
      }
      if (reused) return undefined;
      reused = true;
      return { ...(body as Meta), id: first };
    };
    const run = await sync(setup);
    expect(run.stderr).not.toMatch(/unexpected error|SqliteError/);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`id is not a new file id (${first} is one files-sync already holds)`);
    proxy.rewrite = undefined;
    const again = await sync(setup);
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('an answer naming an old copy due for deletion is refused: that copy is deleted, the file keeps a copy of its own', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha' });
    expect((await sync(setup)).code).toBe(0);
    const old = idOf(emu, 'a.txt');
    writeTree(setup.root, { 'a.txt': 'alpha, edited', 'b.bin': 'bravo' });
    onFirstUploadOf(proxy, 'b.bin', (meta) => ({ ...meta, id: old }));
    const run = await sync(setup);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`id is not a new file id (${old} is one files-sync already holds)`);
    proxy.rewrite = undefined;
    expect((await sync(setup)).code).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(emu.state().files.map((f) => f.id)).not.toContain(old);
  });
});

describe('listings that end short', () => {
  it("beta: an empty first page that says has_more fails the run, and a deleted file's copy is deleted once the listing is whole", async () => {
    const { emu, proxy, setup } = await start('beta');
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' });
    expect((await sync(setup)).code).toBe(0);
    fs.rmSync(path.join(setup.root, 'b.txt'));
    proxy.rewrite = ({ method, url }) =>
      firstListPage(method, url) ? { data: [], has_more: true, first_id: null, last_id: null } : undefined;
    const short = await sync(setup);
    expect(short.code).toBe(5);
    expect(short.stderr).toMatch(/data is not a file or more when has_more is true/);
    proxy.rewrite = undefined;
    const whole = await sync(setup);
    expect(whole.code, whole.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('GA: an empty page with a next_page is read past, so nothing is taken for deleted', async () => {
    const { emu, proxy, setup } = await start('ga');
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' });
    expect((await sync(setup)).code).toBe(0);
    fs.rmSync(path.join(setup.root, 'b.txt'));
    // A cursor before every file: the next page is the whole listing.
    const everything = `page_${Buffer.from('99999999999999999.file_zzzzzzzzzzzzzzzzzzzzzzzz').toString('base64url')}`;
    proxy.rewrite = ({ method, url }) => (firstListPage(method, url) ? { data: [], next_page: everything } : undefined);
    const run = await sync(setup);
    expect(run.code, run.stderr).toBe(0);
    expect(proxy.seen.some((r) => r.includes(`page=${everything}`))).toBe(true);
    expectExactState(emu, setup, localHashes(setup.root));
  });
});

/** The listing's answer without the files `hidden` names (a listing that ends short or lags). */
function hiding(hidden: () => readonly string[]): Proxy['rewrite'] {
  return ({ method, url, body }) => {
    if (method !== 'GET' || !/^\/v1\/files\?/.test(url)) return undefined;
    const page = body as { data: Meta[] };
    return { ...page, data: page.data.filter((f) => !hidden().includes(f.id)) };
  };
}

/** Refuses (400) every delete of `id` in the API's place: it stays due. */
function refusingDeletesOf(id: string): Proxy['intercept'] {
  return (method, url) =>
    method === 'DELETE' && url.includes(id)
      ? { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'refused' } } }
      : undefined;
}

/** Makes the copy `id` expire, on the emulator's clock moved past it. */
function expireNow(e: Emulator, id: string): void {
  e.expire(id, 1);
  e.advanceClock(5_000);
}

function idOf(e: Emulator, filename: string): string {
  return e.state().files.find((f) => f.filename === filename)!.id;
}

/**
 * Two files synced, then `b.txt` deleted locally while its copy expires and the listing leaves it
 * out: the start of the expired-copy cases.
 */
async function expiredAndHidden(contract: TestContract): Promise<{ emu: Emulator; proxy: Proxy; setup: SyncSetup; b: string }> {
  const { emu, proxy, setup } = await start(contract);
  writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo' });
  expect((await sync(setup)).code).toBe(0);
  const b = idOf(emu, 'b.txt');
  expireNow(emu, b);
  fs.rmSync(path.join(setup.root, 'b.txt'));
  proxy.rewrite = hiding(() => [b]);
  return { emu, proxy, setup, b };
}

describe.each<TestContract>(['ga', 'beta'])('copies the listing leaves out (%s)', (contract) => {
  it("a deleted file's copy the listing leaves out keeps its row until the API says it is gone", async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo', 'c.txt': 'charlie' });
    expect((await sync(setup)).code).toBe(0);
    const b = idOf(emu, 'b.txt');
    fs.rmSync(path.join(setup.root, 'b.txt'));
    proxy.rewrite = hiding(() => [b]);
    const short = await sync(setup);
    expect(short.code, short.stderr).toBe(0);
    expect(short.stderr).toMatch(/the listing left out a copy that is still there: its row stays/);
    expect(proxy.seen).toContain(`GET /v1/files/${b}${contract === 'beta' ? '?beta=true' : ''}`);
    proxy.rewrite = undefined;
    expect((await sync(setup)).code).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('an expired copy the listing leaves out is deleted (it is still ours), then its row forgotten', async () => {
    if (contract !== 'ga') return; // expiry is GA's
    const { emu, proxy, setup, b } = await expiredAndHidden(contract);
    const run = await sync(setup);
    expect(run.code, run.stderr).toBe(0);
    expect(proxy.seen).toContain(`DELETE /v1/files/${b}`);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it("an expired copy's delete that fails is said and counted, and its row kept for the next run", async () => {
    if (contract !== 'ga') return; // expiry is GA's
    const { emu, proxy, setup, b } = await expiredAndHidden(contract);
    proxy.intercept = refusingDeletesOf(b);
    const refused = await sync(setup);
    expect(refused.stderr).toMatch(/delete of an expired copy failed; its row stays/);
    expect(refused.code).not.toBe(0);
    proxy.intercept = undefined;
    const run = await sync(setup);
    expect(run.code, run.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it("a locally deleted file's copy due for deletion and left out of the listing is deleted as a removal, under its path", async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha', 'gone.txt': 'gone soon' });
    expect((await sync(setup)).code).toBe(0);
    const gone = idOf(emu, 'gone.txt');
    fs.rmSync(path.join(setup.root, 'gone.txt'));
    proxy.intercept = refusingDeletesOf(gone);
    await sync(setup); // its delete fails: it stays due, as a removal of gone.txt
    proxy.intercept = undefined;
    proxy.rewrite = hiding(() => [gone]);
    const run = await runCli(['sync', '--config', setup.configFile, '--json'], setup.env);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { counts: { removed: number; oldCopiesDeleted: number } };
    expect(report.counts).toMatchObject({ removed: 1, oldCopiesDeleted: 0 });
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('a copy someone else deleted is forgotten after one look-up, with no delete sent', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo' });
    expect((await sync(setup)).code).toBe(0);
    const b = idOf(emu, 'b.txt');
    const headers: Record<string, string> =
      contract === 'ga'
        ? { authorization: `Bearer ${setup.env.ANTHROPIC_API_KEY}`, 'anthropic-version': '2026-10-21' }
        : { 'x-api-key': setup.env.ANTHROPIC_API_KEY!, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' };
    expect((await fetch(`${emu.url}/v1/files/${b}`, { method: 'DELETE', headers })).status).toBe(200);
    fs.rmSync(path.join(setup.root, 'b.txt'));
    const run = await sync(setup);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(proxy.seen.filter((r) => r.startsWith('DELETE'))).toEqual([]);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('an old copy due for deletion that the listing leaves out is deleted all the same', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha' });
    expect((await sync(setup)).code).toBe(0);
    const old = idOf(emu, 'a.txt');
    // The old copy's delete fails once, so it stays due; then the listing leaves it out.
    proxy.intercept = refusingDeletesOf(old);
    writeTree(setup.root, { 'a.txt': 'alpha, edited' });
    await sync(setup);
    expect(emu.state().files.map((f) => f.id)).toContain(old);
    proxy.intercept = undefined;
    proxy.rewrite = hiding(() => [old]);
    const run = await sync(setup);
    expect(run.code, run.stderr).toBe(0);
    expect(emu.state().files.map((f) => f.id)).not.toContain(old);
    expectExactState(emu, setup, localHashes(setup.root));
  });
});

describe.each<TestContract>(['ga', 'beta'])('an upload answered with a server error after it was stored (%s)', (contract) => {
  it('its copies are found as orphans and deleted: no duplicate is left', async () => {
    const { emu, proxy, setup } = await start(contract);
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo' });
    // The first two uploads of a.txt are stored, then answered 500 and 504; the third goes through.
    let failed = 0;
    proxy.restatus = ({ method, url, body }) =>
      method === 'POST' && url.startsWith('/v1/files') && (body as Meta).filename === 'a.txt' && failed < 2
        ? [500, 504][failed++]
        : undefined;
    const run = await sync(setup);
    expect(run.code, run.stderr).toBe(0);
    expect(failed).toBe(2);
    proxy.restatus = undefined;
    const again = await sync(setup);
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(emu.state().files.filter((f) => f.filename === 'a.txt')).toHaveLength(1);
  });
});
