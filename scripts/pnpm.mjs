#!/usr/bin/env node
// Runs the pinned pnpm through npx: corepack cannot be used here (the registry serves no
// signatures), and a global pnpm may be any version.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const pinned = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).packageManager;
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const result = spawnSync(npx, ['--yes', pinned, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: new URL('.', root),
});
process.exit(result.status ?? 1);
