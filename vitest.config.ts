import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (the `@carboncp/source`
// export condition), so `vitest` needs no build; `tsc -b` builds dist for the CLI and the demo.
const conditions = ['@carboncp/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@carboncp/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'models/src/**/*.test.ts', 'test/**/*.test.ts'],
    benchmark: { include: ['test/bench/**/*.bench.ts'] },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
