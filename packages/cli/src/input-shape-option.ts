import { parseInputShapeSpecs } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * `--input-shape NAME=D,D,...` values (repeatable) as a record. A malformed value is a bad command
 * line (CARBONCP_USAGE, exit 2); a well-formed shape that does not fit the model is found later
 * and is bad input (exit 3).
 */
export function parseInputShapeOption(specs: readonly string[], command: string): Record<string, number[]> | undefined {
  if (specs.length === 0) return undefined;
  try {
    return parseInputShapeSpecs(specs);
  } catch (cause) {
    throw new CarboncpError(ErrorCode.USAGE, `${command}: ${(cause as Error).message}; see 'carboncp ${command} --help'`, { cause });
  }
}

/**
 * The shapes of `given` whose input the model has, over the model's own defaults (`base`). Used
 * where one --input-shape list applies to several models (the demo): each takes the names it has.
 */
export function shapesForModel(
  inputNames: readonly string[],
  base: Record<string, number[]> | undefined,
  given: Record<string, number[]> | undefined,
): Record<string, number[]> | undefined {
  const picked = Object.fromEntries(Object.entries(given ?? {}).filter(([name]) => inputNames.includes(name)));
  const merged = { ...base, ...picked };
  return Object.keys(merged).length > 0 ? merged : undefined;
}
