import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { loadModel, type LoadedModel } from '../model/load-model.js';

/** Reads and parses an ONNX file; the model name defaults to the file name without extension. */
export async function readModelFile(path: string, name?: string): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new CarboncpError(ErrorCode.NOT_FOUND, `model file not found: ${path}`, { cause });
    }
    if (code === 'EISDIR') {
      throw new CarboncpError(ErrorCode.BAD_MODEL, `model path is a directory, not an ONNX file: ${path}`, { cause });
    }
    throw new CarboncpError(ErrorCode.IO, `cannot read model file ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    return await loadModel(bytes, name ?? basename(path, extname(path)));
  } catch (cause) {
    if (cause instanceof CarboncpError) {
      throw new CarboncpError(cause.code, `${path}: ${cause.message}`, { cause });
    }
    throw cause;
  }
}
