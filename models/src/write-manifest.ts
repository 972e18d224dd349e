/**
 * Regenerates models/manifest.json from the models and the partitioner:
 *   node scripts/pnpm.mjs exec tsc -b models && node models/dist/write-manifest.js
 */
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './atomic-write.js';
import { buildManifest } from './manifest.js';

const target = fileURLToPath(new URL('../manifest.json', import.meta.url));
const manifest = await buildManifest();
await writeFileAtomic(target, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
for (const m of manifest.models) {
  process.stdout.write(`${m.name.padEnd(20)} ${String(m.cuts).padStart(4)} cuts  ${(m.sizeBytes / 1e6).toFixed(1).padStart(6)} MB\n`);
}
process.stdout.write(`wrote ${target}\n`);
