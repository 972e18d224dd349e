#!/usr/bin/env node
// One set-up for `npm run demo` and `npm test` on a fresh machine with only Node and npm:
// install the workspace from the lockfile with the pinned pnpm, then build every package.
// pnpm 10 runs no dependency build scripts unless allowed, so onnxruntime-node's postinstall
// (it downloads CUDA libraries) never runs; see pnpm-workspace.yaml.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pnpm = fileURLToPath(new URL('pnpm.mjs', import.meta.url));
function step(label, args) {
  process.stderr.write(`[setup] ${label}\n`);
  const r = spawnSync(process.execPath, [pnpm, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`[setup] failed: ${label} (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
}
step('install (frozen lockfile)', ['install', '--frozen-lockfile', '--prefer-offline']);
step('build (tsc -b)', ['run', 'build']);
const prune = spawnSync(process.execPath, [fileURLToPath(new URL('prune-dist.mjs', import.meta.url))], { stdio: 'inherit' });
if (prune.status !== 0) process.exit(prune.status ?? 1);
