// `node dist-bench/ab.js --build A=DIR --build B=DIR [--rounds 8] [--files 10000] [--size 4096]`:
// row 1's comparison for builds side by side. A build is a directory holding a built `dist/` and
// the `package.json` it was built from (a copy: `mkdir /tmp/a && cp -r dist package.json /tmp/a/`,
// with `node_modules` beside them or above, e.g. a symbolic link). Each round runs every
// build and the preloaded ceiling once, each against a fresh emulator on core 0, the client on
// core 1, in alternating order (the machine drifts; back-to-back figures mislead), and takes each
// build's ratio in that round: the ceiling's sending time ÷ the build's wall time, from spawn to
// exit as row 1 times it. Prints the rounds, then each build's medians.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scriptArgs } from './lib/args.js';
import { withEmulator } from './lib/emulator.js';
import { benchScript, checkBuilt, EMULATOR_KEY } from './lib/env.js';
import { writeConfig } from './lib/filesync.js';
import { expectOk, runNode } from './lib/proc.js';
import { median } from './lib/stats.js';
import { makeSmallTree, tempDir } from './lib/tree.js';

const USAGE = `usage: node dist-bench/ab.js --build NAME=DIR [--build NAME=DIR ...] [--rounds 8] [--files 10000] [--size 4096]
  row 1 for each build (DIR/dist/files-sync.js) beside the preloaded ceiling, alternated round by round.
`;
const values = scriptArgs(USAGE, {
  build: { type: 'string', multiple: true, default: [] },
  rounds: { type: 'string', default: '8' },
  files: { type: 'string', default: '10000' },
  size: { type: 'string', default: '4096' },
});
const builds = values.build.map((spec) => {
  const at = spec.indexOf('=');
  if (at <= 0) throw new Error(`--build ${spec}: expected NAME=DIR\n${USAGE}`);
  return {
    name: spec.slice(0, at),
    cli: join(resolve(spec.slice(at + 1)), 'dist', 'files-sync.js'),
    walls: [] as number[],
    ratios: [] as number[],
  };
});
if (builds.length === 0) throw new Error(`no --build given\n${USAGE}`);
checkBuilt();
const dir = tempDir('ab');
const sending: number[] = [];
try {
  const tree = makeSmallTree(join(dir, 'root'), Number(values.files), Number(values.size));
  const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });
  const env = (url: string) => ({ ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url });
  const ceiling = () =>
    withEmulator({}, async (emu) => {
      const m = expectOk(
        await runNode(benchScript('clients/preloaded.js'), ['--dir', tree.root, '--concurrency', '8'], { env: env(emu.url) }),
        'preloaded ceiling',
      );
      return (JSON.parse(m.stdout) as { ms: number }).ms;
    });
  const sync = (cli: string, round: number) =>
    withEmulator({}, async (emu) => {
      const stateDir = join(dir, `state-${round}`);
      const args = ['sync', '--config', config, '--root', tree.root, '--state-dir', stateDir, '--json'];
      const m = expectOk(await runNode(cli, args, { env: env(emu.url), timeoutMs: 600_000 }), `files-sync sync (${cli})`);
      rmSync(stateDir, { recursive: true, force: true });
      return m.wallMs;
    });
  for (let round = 0; round < Number(values.rounds); round++) {
    const order = round % 2 === 0 ? builds : [...builds].reverse();
    const walls = new Map<string, number>();
    if (round % 2 === 1) sending.push(await ceiling());
    for (const build of order) walls.set(build.name, await sync(build.cli, round));
    if (round % 2 === 0) sending.push(await ceiling());
    const line = builds.map((b) => {
      const wall = walls.get(b.name)!;
      b.walls.push(wall);
      b.ratios.push(sending[round]! / wall);
      return `${b.name} ${Math.round(wall)} ms (${(sending[round]! / wall).toFixed(3)}×)`;
    });
    console.log(`round ${round + 1}: preloaded ceiling ${Math.round(sending[round]!)} ms sending; ${line.join('; ')}`);
  }
  console.log(`preloaded ceiling: median ${Math.round(median(sending))} ms sending`);
  for (const b of builds)
    console.log(
      `${b.name}: median wall ${Math.round(median(b.walls))} ms, ratio ${median(b.ratios).toFixed(3)}× (runs ${b.ratios.map((r) => r.toFixed(2)).join(', ')})`,
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
