import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Opt-in suites (crash loops, soak) run only with FILES_SYNC_SLOW=1.
    pool: 'forks',
    // Both cores: the suite is mostly waiting on child processes and the emulator (about 4 min
    // instead of 7.5 on the 2-core machines CI runs on).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
