// The daemon's watch on the sync root itself: a cheap stat every couple of seconds that notices a
// root replaced (another device, inode or birth time), moved away, deleted or back after an
// unmount. The watcher hears of a root deleted or moved too (its own watch's event: dir-tree.ts),
// but not of one that comes back, nor of a mount over it.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { birthOf, sameDir, type DirId } from './dir-children.js';

/** How often the root is looked at: a replaced root is noticed within about this long. */
export const ROOT_CHECK_MS = 2_000;

/** What a look at the root found. */
export interface RootState {
  state: 'present' | 'missing' | 'not-a-directory';
  dev: number | null;
  ino: number | null;
  /** Its birth time (0 where the file system keeps none): a root made again on a reused inode number differs only in this. */
  birth: number | null;
  /** With `rootMarker` enabled: whether the marker file is there. */
  marker: boolean | null;
  /** Why the root could not be seen (the errno), when missing. */
  error: string | null;
}

/** What `status` shows of the root check. */
export interface RootCheckStatus extends RootState {
  checkedAt: string | null;
  /** When the root last changed identity or came and went since the daemon started. */
  changedAt: string | null;
}

/** What the check watches and whom it tells. */
export interface RootCheckOptions {
  root: () => string;
  marker: () => string | null;
  /** The root is not what it was at the previous look. */
  onChange: (before: RootState, after: RootState) => void;
  /** Every look (after `onChange` when it changed): whether the root is there, and whether it changed. */
  onLook?: (present: boolean, changed: boolean) => void;
  intervalMs?: number;
}

/** Stats the root (following a root that is a symlink, as the walk does) and its marker. */
export async function lookAtRoot(root: string, marker: string | null): Promise<RootState> {
  let info;
  try {
    info = await stat(root);
  } catch (err) {
    return {
      state: 'missing',
      dev: null,
      ino: null,
      birth: null,
      marker: null,
      error: (err as NodeJS.ErrnoException).code ?? errorMessage(err),
    };
  }
  const id = { dev: info.dev, ino: info.ino, birth: birthOf(info) };
  if (!info.isDirectory()) return { state: 'not-a-directory', ...id, marker: null, error: null };
  const hasMarker =
    marker === null
      ? null
      : await stat(path.join(root, marker)).then(
          () => true,
          () => false,
        );
  return { state: 'present', ...id, marker: hasMarker, error: null };
}

/**
 * What changed between two looks, for the log and the reconciliation's reason. A root that is
 * gone stops being watched; one back or replaced is watched again (its deletes are judged by the
 * reconciliation's root check, DESIGN.md rule 4).
 */
export function describeRootChange(
  root: string,
  before: RootState,
  after: RootState,
): { gone: boolean; what: string; message: string; newDirectory: DirId | null } {
  if (after.state !== 'present') {
    const what =
      after.state === 'missing' ? `the sync root is gone (${after.error ?? 'not found'})` : 'the sync root is no longer a directory';
    return {
      gone: true,
      newDirectory: null,
      what,
      message: `${what.replace('the sync root', `the sync root ${root}`)}: nothing is deleted, and watching resumes when it is back`,
    };
  }
  let what: string;
  if (before.state !== 'present') what = 'is back';
  else if (!sameIdentity(before, after)) what = 'was replaced (another device, inode or birth time)';
  else what = after.marker ? 'has its marker again' : 'lost its marker';
  return {
    gone: false,
    // Another directory than before (back, or replaced): a marker's change is the same one.
    newDirectory: before.state !== 'present' || !sameIdentity(before, after) ? idOf(after) : null,
    what: `the sync root ${what}`,
    message: `the sync root ${root} ${what}; watching it again and reconciling`,
  };
}

function sameRoot(a: RootState, b: RootState): boolean {
  return a.state === b.state && sameIdentity(a, b) && a.marker === b.marker;
}

/** The same directory by dir-children.ts's rule (device, inode, birth time where known); or both not seen. */
function sameIdentity(a: RootState, b: RootState): boolean {
  const x = idOf(a);
  const y = idOf(b);
  return x === null || y === null ? x === y : sameDir(x, y);
}

function idOf(s: RootState): DirId | null {
  return s.dev === null || s.ino === null ? null : { dev: s.dev, ino: s.ino, birth: s.birth ?? 0 };
}

/** Polls the root's identity; `reset()` after the root path changed (a reload). */
export class RootCheck {
  private timer: NodeJS.Timeout | null = null;
  private last: RootState | null = null;
  private checkedAt: number | null = null;
  private changedAt: number | null = null;
  private looking = false;
  private stopped = false;

  constructor(private readonly o: RootCheckOptions) {}

  /** Takes the first look (the baseline) and starts polling. */
  async start(): Promise<void> {
    this.last = await lookAtRoot(this.o.root(), this.o.marker());
    this.checkedAt = Date.now();
    this.arm();
  }

  /** The root path or marker changed by configuration: the next look is the new baseline. */
  reset(): void {
    this.last = null;
  }

  status(): RootCheckStatus {
    const last = this.last ?? { state: 'present', dev: null, ino: null, birth: null, marker: null, error: null };
    return {
      ...last,
      checkedAt: this.checkedAt === null ? null : new Date(this.checkedAt).toISOString(),
      changedAt: this.changedAt === null ? null : new Date(this.changedAt).toISOString(),
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.stopped) return;
    // Unref'd: the check never keeps a stopping daemon alive.
    this.timer = setTimeout(() => void this.look(), this.o.intervalMs ?? ROOT_CHECK_MS);
    this.timer.unref();
  }

  private async look(): Promise<void> {
    if (this.looking || this.stopped) return;
    this.looking = true;
    try {
      const now = await lookAtRoot(this.o.root(), this.o.marker());
      this.checkedAt = Date.now();
      const before = this.last;
      this.last = now;
      const changed = before !== null && !sameRoot(before, now);
      if (this.stopped) return;
      if (changed) {
        this.changedAt = Date.now();
        this.o.onChange(before, now);
      }
      this.o.onLook?.(now.state === 'present', changed);
    } finally {
      this.looking = false;
      this.arm();
    }
  }
}
