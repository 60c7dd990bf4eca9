// The emulator's listing lag after deletes (`deleteListLagMs`, files-api.md: files "are
// inaccessible through the API shortly after deletion"): a deleted file leaves every route at
// once but the listing, which shows it for the lag, in both contracts, then drops it.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { runEmulatorCommand } from '../../src/emulator/main.js';

const KEY = 'sk-emulator-lag-test-key-7';
const HEADERS = {
  ga: { authorization: `Bearer ${KEY}`, 'anthropic-version': '2026-10-21' },
  beta: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' },
};
type Contract = keyof typeof HEADERS;
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

function api(contract: Contract, route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${emu!.url}${route}`, { ...init, headers: HEADERS[contract] });
}

async function uploadOk(contract: Contract, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([`content of ${name}`], { type: 'text/plain' }), name);
  const res = await api(contract, '/v1/files', { method: 'POST', body: form });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

async function listedIds(contract: Contract, query = 'limit=1000'): Promise<string[]> {
  const res = await api(contract, `/v1/files?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { id: string }[] }).data.map((f) => f.id);
}

describe.each<Contract>(['ga', 'beta'])('a deleted file under a listing lag (%s)', (contract) => {
  it('lists for the lag, in its place, while every other route answers 404; then it is gone', async () => {
    emu = await startEmulator({ apiKey: KEY, faults: { deleteListLagMs: 400 } });
    const [a, b, c] = [await uploadOk(contract, 'a.txt'), await uploadOk(contract, 'b.txt'), await uploadOk(contract, 'c.txt')];
    expect((await api(contract, `/v1/files/${b}`, { method: 'DELETE' })).status).toBe(200);
    const deletedAt = Date.now();

    // Newest first, the deleted file where it was.
    expect(await listedIds(contract)).toEqual([c, b, a]);
    // Paging by one walks over it too.
    const paged = await listedIds(contract, 'limit=2');
    expect(paged).toEqual([c, b]);
    expect((await api(contract, `/v1/files/${b}`)).status).toBe(404);
    expect((await api(contract, `/v1/files/${b}`, { method: 'DELETE' })).status).toBe(404);
    if (contract === 'ga') expect(await listedIds(contract, [a, b].map((id) => `ids%5B%5D=${id}`).join('&'))).toEqual([a]);
    // The inspection route and the counters show the live files only.
    expect(emu.state().files.map((f) => f.id)).toEqual([a, c]);
    const counters = (await (await fetch(`${emu.url}/_emulator/counters`)).json()) as { files: number };
    expect(counters.files).toBe(2);

    await new Promise((r) => setTimeout(r, Math.max(0, deletedAt + 450 - Date.now())));
    expect(await listedIds(contract)).toEqual([c, a]);
  });

  it('shows nothing deleted without a lag (the default)', async () => {
    emu = await startEmulator({ apiKey: KEY });
    const a = await uploadOk(contract, 'a.txt');
    const b = await uploadOk(contract, 'b.txt');
    expect((await api(contract, `/v1/files/${a}`, { method: 'DELETE' })).status).toBe(200);
    expect(await listedIds(contract)).toEqual([b]);
  });
});

describe('deleteListLagMs setting', () => {
  it('is a non-negative integer', async () => {
    emu = await startEmulator({ apiKey: KEY });
    expect(() => emu!.setFaults({ deleteListLagMs: -1 })).toThrow(/deleteListLagMs must be a non-negative integer/);
    expect(() => emu!.setFaults({ deleteListLagMs: 1.5 })).toThrow(TypeError);
    emu.setFaults({ deleteListLagMs: 10 });
  });

  it('comes from the command line as --delete-list-lag-ms', async () => {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const stop = new AbortController();
    const done = runEmulatorCommand(
      ['--port', '0', '--api-key', KEY, '--delete-list-lag-ms', '60000'],
      {},
      { stdout, stderr: new PassThrough(), signal: stop.signal },
    );
    await expect.poll(() => out).toMatch(/listening on \S+/);
    const url = /listening on (\S+)/.exec(out)![1]!;
    emu = { url } as Emulator; // api() reads only the URL; the command stops on its own below
    try {
      const id = await uploadOk('beta', 'a.txt');
      expect((await api('beta', `/v1/files/${id}`, { method: 'DELETE' })).status).toBe(200);
      expect(await listedIds('beta')).toEqual([id]);
    } finally {
      emu = undefined;
      stop.abort();
    }
    expect(await done).toBe(0);

    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await runEmulatorCommand(['--delete-list-lag-ms', 'soon'], {}, { stdout: new PassThrough(), stderr })).toBe(2);
    expect(err).toMatch(/--delete-list-lag-ms must be an integer from 0 to 3600000/);
  });
});
