// A delete the API refuses: the run exits 1 and says which copy was not deleted and why, in the
// summary, in --json and in `status`, and the next run that is answered deletes it. The emulator
// over HTTP behind a tampering proxy that refuses the deletes (test/helpers/proxy.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { proxiedSetups } from '../helpers/proxied.js';
import { expectExactState, localHashes, runCli, writeTree } from '../helpers/sync.js';

const start = proxiedSetups();

const REFUSED = { type: 'error', error: { type: 'permission_error', message: 'deletes are not allowed for this key' } };

interface FailedDeletesJson {
  exitCode: number;
  counts: { failed: number; removed: number; deletesFailed: number };
  failedDeletes?: { fileId: string; path: string | null; reason: string }[];
}

describe('a refused delete', () => {
  it('is said with its path, id and reason in the summary, --json and status, and done by the next run', async () => {
    const { emu, proxy, setup } = await start();
    writeTree(setup.root, { 'keep.txt': 'kept', 'gone.txt': 'removed soon', 'old/one.txt': 'one', 'old/two.txt': 'two' });
    expect((await setup.sync()).code).toBe(0);
    const ids = new Map(emu.state().files.map((f) => [f.filename, f.id]));
    fs.rmSync(path.join(setup.root, 'gone.txt'));
    fs.rmSync(path.join(setup.root, 'old'), { recursive: true });
    proxy.intercept = (method) => (method === 'DELETE' ? { status: 403, body: REFUSED } : undefined);

    const human = await setup.sync();
    expect(human.code, human.stderr).toBe(1);
    expect(human.stdout).toContain('3 deletes failed');
    expect(human.stdout).toContain(`delete failed: gone.txt (${ids.get('gone.txt')}): `);
    expect(human.stdout).toMatch(/deletes are not allowed for this key/);
    expect(human.stdout).toMatch(/retried by the next run/);

    const json = await runCli(['sync', '--config', setup.configFile, '--json'], setup.env);
    expect(json.code, json.stderr).toBe(1);
    const report = JSON.parse(json.stdout) as FailedDeletesJson;
    expect(report.exitCode).toBe(1);
    expect(report.counts.failed).toBe(0);
    expect(report.counts.deletesFailed).toBe(3);
    expect(report.failedDeletes?.map((d) => d.path).sort()).toEqual(['gone.txt', 'old/one.txt', 'old/two.txt']);
    expect(report.failedDeletes?.find((d) => d.path === 'gone.txt')?.fileId).toBe(ids.get('gone.txt'));

    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/failing: 3 deletes failed/);
    expect(status.stdout).not.toMatch(/0 files failed/);

    proxy.intercept = undefined;
    const done = await setup.sync();
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).not.toContain('delete failed');
    expectExactState(emu, setup, localHashes(setup.root));
    const after = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(after.stdout).toMatch(/up to date/);
  });
});
