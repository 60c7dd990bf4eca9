// describeRootChange: what a change of the root between two looks means for the watch.
import { describe, expect, it } from 'vitest';
import { describeRootChange, type RootState } from '../../src/daemon/rootcheck.js';

const present = (ino: number, marker: boolean | null = null): RootState => ({
  state: 'present',
  dev: 7,
  ino,
  birth: 0,
  marker,
  error: null,
});
const missing: RootState = { state: 'missing', dev: null, ino: null, birth: null, marker: null, error: 'ENOENT' };

describe('describeRootChange', () => {
  it('names the new directory of a root replaced or back, so a watcher already on it is not restarted', () => {
    expect(describeRootChange('/r', present(1), present(2))).toMatchObject({ gone: false, newDirectory: { dev: 7, ino: 2, birth: 0 } });
    expect(describeRootChange('/r', missing, present(3))).toMatchObject({ gone: false, newDirectory: { dev: 7, ino: 3 } });
  });

  it('names none for a marker that came or went (the same directory: watched again and reconciled) or a root gone', () => {
    const lost = describeRootChange('/r', present(1, true), present(1, false));
    expect(lost).toMatchObject({ gone: false, newDirectory: null });
    expect(lost.what).toBe('the sync root lost its marker');
    expect(describeRootChange('/r', present(1), missing)).toMatchObject({ gone: true, newDirectory: null });
  });
});
