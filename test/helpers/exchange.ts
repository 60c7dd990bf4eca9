// renameat2(RENAME_EXCHANGE) in a loop: the attack of a folder's writer who swaps a directory and
// a symbolic link atomically, again and again (DESIGN.md rule 8), built from C where `cc` is.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** renameat2(RENAME_EXCHANGE) in a loop, until killed (or 60 s): the parent-swap attack. */
const EXCHANGE_C = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  alarm(60);
  for (;;) {
    if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0) { perror("renameat2"); return 1; }
  }
}
`;

/** Compiles the exchange helper into `dir`; undefined (the test is skipped) without `cc`. */
export function compileExchange(dir: string): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const source = path.join(dir, 'exchange.c');
  const binary = path.join(dir, 'exchange');
  fs.writeFileSync(source, EXCHANGE_C);
  const built = spawnSync('cc', ['-O2', '-o', binary, source], { encoding: 'utf8' });
  if (built.error || built.status !== 0) return undefined;
  return binary;
}
