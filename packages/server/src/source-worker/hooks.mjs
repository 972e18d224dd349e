// Module hooks of a source-mode worker (see boot.mjs): workspace packages resolve to their
// sources ('@carboncp/source' condition), an import of './x.js' from a .ts file finds './x.ts',
// and .ts files are transpiled with the repository's TypeScript (type-only imports erased, no
// type check: tsc -b and tsconfig.tests.json check types). Transpiled output is cached on disk by
// a digest of the source, so a second worker (or test run) does not load TypeScript again.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONDITION = '@carboncp/source';
const cacheDir = join(tmpdir(), 'carboncp-source-worker-cache');
let typescript;

export async function resolve(specifier, context, nextResolve) {
  const withSource = { ...context, conditions: [...new Set([...context.conditions, CONDITION])] };
  try {
    return await nextResolve(specifier, withSource);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, withSource);
    }
    throw error;
  }
}

async function transpile(path, source) {
  typescript ??= (await import('typescript')).default;
  const { outputText } = typescript.transpileModule(source, {
    fileName: path,
    compilerOptions: {
      module: typescript.ModuleKind.ESNext,
      target: typescript.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  return outputText;
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, 'utf8');
  const digest = createHash('sha256').update(path).update('\0').update(source).digest('hex');
  const cached = join(cacheDir, `${digest}.js`);
  let output;
  try {
    output = await readFile(cached, 'utf8');
  } catch {
    output = await transpile(path, source);
    // Another worker may write the same entry at the same time: each writes its own temp file.
    await mkdir(cacheDir, { recursive: true });
    const temp = `${cached}.${randomUUID()}.tmp`;
    await writeFile(temp, output);
    await rename(temp, cached);
  }
  return { format: 'module', source: output, shortCircuit: true };
}
