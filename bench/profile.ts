// `node dist-bench/profile.js [--files 10000] [--size 4096] [--top 10] [--strace]` (after `npm run bench` or
// `npm run build && tsc -p bench/tsconfig.json`): a CPU profile of one files-sync sync of a fresh
// tree (issue 13: 10,000 × 4 KiB, concurrency 8) against the emulator in its own process, then the
// top functions by self time, the source files by inclusive time and the areas. `--strace` adds a
// second sync (fresh emulator and state) under `strace -f -c`, and `--cpu` a plain sync and the
// preloaded ceiling, each with its CPU time per file: system calls per file, a count the
// machine's load does not move. `--joint` profiles the emulator beside each client (files-sync,
// then the preloaded ceiling) and tells how much of the run one waited on the other, and what the
// client ran while the emulator had nothing to do (bench/lib/joint.ts). The .cpuprofile
// (open it in Chrome DevTools) and summary.txt stay in bench/results/tmp/profile-<time>/.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { withEmulator } from './lib/emulator.js';
import { checkBuilt, CLI, EMULATOR_KEY, REPO } from './lib/env.js';
import { writeConfig, type SyncReportLite } from './lib/filesync.js';
import { expectOk, runCommand, runNode } from './lib/proc.js';
import { benchScript } from './lib/env.js';
import { formatJoint, jointSummary } from './lib/joint.js';
import { formatSummary, summarizeFile } from './lib/profile.js';
import { straceCounts } from './lib/strace.js';
import { makeSmallTree, tempDir } from './lib/tree.js';
import { scriptArgs } from './lib/args.js';

const USAGE = `usage: node dist-bench/profile.js [--files 10000] [--size 4096] [--top 10] [--concurrency 8] [--strace] [--cpu] [--joint]
  a CPU profile of one files-sync sync of a fresh tree against the emulator, then its top functions;
  --strace adds system calls per file, --cpu CPU per file beside the preloaded ceiling, --joint both
  processes profiled side by side. Output in bench/results/tmp/profile-<time>/.
`;
const values = scriptArgs(USAGE, {
  files: { type: 'string', default: '10000' },
  size: { type: 'string', default: '4096' },
  top: { type: 'string', default: '10' },
  concurrency: { type: 'string', default: '8' },
  strace: { type: 'boolean', default: false },
  cpu: { type: 'boolean', default: false },
  joint: { type: 'boolean', default: false },
});
const count = Number(values.files);
const size = Number(values.size);
checkBuilt();
const outDir = join(REPO, 'bench', 'results', 'tmp', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(outDir, { recursive: true });
const dir = tempDir('profile');
try {
  const tree = makeSmallTree(join(dir, 'root'), count, size);
  const config = writeConfig(join(dir, 'config.json'), {
    concurrency: Number(values.concurrency),
    requestsPerMinute: 100_000,
  });
  const loadBefore = loadavg();
  const m = await withEmulator({}, async (emu) =>
    expectOk(
      await runCommand(
        process.execPath,
        [
          '--cpu-prof',
          '--cpu-prof-dir',
          outDir,
          CLI,
          'sync',
          '--config',
          config,
          '--root',
          tree.root,
          '--state-dir',
          join(dir, 'state'),
          '--json',
        ],
        {
          env: { ...process.env, ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: emu.url },
          timeoutMs: 900_000,
        },
      ),
      'files-sync sync --cpu-prof',
    ),
  );
  const report = JSON.parse(m.stdout) as SyncReportLite;
  if (report.uploaded !== count) throw new Error(`files-sync uploaded ${report.uploaded} of ${count}`);
  const profiles = readdirSync(outDir).filter((f) => f.endsWith('.cpuprofile'));
  const biggest = profiles.map((f) => join(outDir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!biggest) throw new Error(`no .cpuprofile in ${outDir}`);
  const summary = summarizeFile(biggest);
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  const lines = [
    `files-sync sync of ${count} × ${size} B, wall ${(m.wallMs / 1000).toFixed(2)} s (${((count / m.wallMs) * 1000).toFixed(0)} files/s, profiler on); load average ${load(loadBefore)} → ${load(loadavg())}`,
    `profile: ${biggest}`,
    formatSummary(summary, Number(values.top), 15),
    '',
  ];
  if (values.strace)
    lines.push(
      await straceCounts({
        root: tree.root,
        config,
        stateDir: join(dir, 'state-strace'),
        files: count,
        outFile: join(outDir, 'strace.txt'),
      }),
      '',
    );
  if (values.cpu) lines.push(await cpuPerFile(tree.root, config, join(dir, 'state-cpu')), '');
  if (values.joint) lines.push(await jointRuns(tree.root, config, join(dir, 'state-joint'), outDir), '');
  const text = lines.join('\n');
  writeFileSync(join(outDir, 'summary.txt'), text);
  process.stdout.write(text);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** CPU per file of a plain files-sync sync (whole process) and of the preloaded ceiling (sending only). */
async function cpuPerFile(root: string, config: string, stateDir: string): Promise<string> {
  const env = (url: string) => ({ ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url });
  const fsm = await withEmulator({}, async (emu) =>
    expectOk(
      await runNode(CLI, ['sync', '--config', config, '--root', root, '--state-dir', stateDir, '--json'], {
        env: env(emu.url),
        timeoutMs: 900_000,
      }),
      'files-sync sync',
    ),
  );
  const pre = await withEmulator({}, async (emu) =>
    expectOk(
      await runNode(benchScript('clients/preloaded.js'), ['--dir', root, '--concurrency', values.concurrency], {
        env: env(emu.url),
      }),
      'preloaded ceiling',
    ),
  );
  const p = JSON.parse(pre.stdout) as { ms: number; cpuMs: number; maxInFlight: number };
  const fsCpu = (fsm.probe?.userMs ?? NaN) + (fsm.probe?.systemMs ?? NaN);
  return [
    `CPU per file (load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}):`,
    `  files-sync, whole process, no profiler: ${(fsCpu / count).toFixed(3)} ms (user ${((fsm.probe?.userMs ?? NaN) / count).toFixed(3)}, system ${((fsm.probe?.systemMs ?? NaN) / count).toFixed(3)}); wall ${(fsm.wallMs / 1000).toFixed(2)} s`,
    `  preloaded ceiling, sending only: ${(p.cpuMs / count).toFixed(3)} ms; sending ${(p.ms / 1000).toFixed(2)} s, process ${(pre.wallMs / 1000).toFixed(2)} s; at most ${p.maxInFlight} requests in flight`,
    `  ratio files-sync ÷ ceiling CPU per file: ${(fsCpu / p.cpuMs).toFixed(2)}×; wall files-sync process ÷ ceiling sending: ${(fsm.wallMs / p.ms).toFixed(2)}×`,
  ].join('\n');
}

/** One files-sync sync and one preloaded run, each with the emulator profiled beside it (bench/lib/joint.ts). */
async function jointRuns(root: string, config: string, stateDir: string, outDir: string): Promise<string> {
  const env = (url: string) => ({ ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url });
  const profiled = (dir: string) => ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'];
  const clients: [string, string, string[]][] = [
    ['files-sync sync', CLI, ['sync', '--config', config, '--root', root, '--state-dir', stateDir, '--json']],
    ['preloaded ceiling', benchScript('clients/preloaded.js'), ['--dir', root, '--concurrency', values.concurrency]],
  ];
  const out: string[] = [];
  for (const [name, script, args] of clients) {
    const dir = join(outDir, `joint-${name.split(' ')[0]}`);
    const emuDir = join(dir, 'emulator');
    const clientDir = join(dir, 'client');
    // The emulator writes its profile as it exits (SIGTERM): read both after withEmulator returns.
    await withEmulator({ nodeArgs: profiled(emuDir) }, async (emu) =>
      expectOk(
        await runCommand(process.execPath, [...profiled(clientDir), script, ...args], {
          env: { ...process.env, ...env(emu.url) },
          timeoutMs: 900_000,
        }),
        name,
      ),
    );
    const only = (d: string) => {
      const files = readdirSync(d).filter((f) => f.endsWith('.cpuprofile'));
      if (files.length !== 1) throw new Error(`${d}: ${files.length} profiles, expected 1`);
      return join(d, files[0]!);
    };
    out.push(formatJoint(name, jointSummary(only(emuDir), only(clientDir))));
  }
  return out.join('\n');
}
