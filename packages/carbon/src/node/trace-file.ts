import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { csvFactory, staticFactory, type ProviderContext, type ProviderFactories } from '../provider-spec.js';
import { httpProviderFactories } from '../providers/http/spec-factories.js';
import type { ParseTraceOptions } from '../providers/trace-csv.js';
import { TraceProvider, type TraceProviderOptions } from '../providers/trace.js';

/** Reads a text file; a missing file is CARBONCP_NOT_FOUND, another failure CARBONCP_IO. */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CarboncpError(ErrorCode.NOT_FOUND, `no such file: ${path}`, { cause });
    throw new CarboncpError(ErrorCode.IO, `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** The zone of a file without a zone column: its base name without extension ('DE.csv' -> 'DE'). */
export function zoneFromFileName(path: string): string {
  return basename(path, extname(path));
}

/** A trace provider from a CSV file (see parseTraceCsv and TraceProvider); source 'csv:<path>'. */
export async function traceProviderFromFile(path: string, options: TraceProviderOptions & ParseTraceOptions = {}): Promise<TraceProvider> {
  const text = await readTextFile(path);
  return TraceProvider.fromCsv(text, { source: `csv:${path}`, ...(options.zone === undefined ? { defaultZone: zoneFromFileName(path) } : {}), ...options });
}

/** Every provider factory in Node: static, csv (files read with fs) and the HTTP providers (keys from the environment). */
export const nodeProviderFactories: ProviderFactories = {
  static: staticFactory,
  csv: csvFactory(zoneFromFileName),
  ...httpProviderFactories,
};

/** The context Node callers pass to createProvider: fs for files, process.env for keys. */
export function nodeProviderContext(): ProviderContext {
  return { env: process.env, readText: readTextFile };
}
