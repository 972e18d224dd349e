import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface CreateSessionOptions {
  /** Tried in order; the first that opens the model wins. Default ['cpu']. */
  executionProviders?: ExecutionProvider[];
  log?: (msg: string) => void;
}

const require = createRequire(import.meta.url);

/**
 * onnxruntime-node ships its CUDA provider as a separate shared library that its postinstall
 * downloads; when it is missing, asking for CUDA makes the native side print an error before
 * failing, so look for the library first and skip the attempt quietly.
 */
export function cudaProviderLibrary(): string | undefined {
  try {
    const entry = require.resolve('onnxruntime-node');
    const bin = join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
    const file = join(bin, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Opens an onnxruntime session, trying each execution provider in order, and says which one runs. */
export async function createSession(
  bytes: Uint8Array,
  options: CreateSessionOptions = {},
): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider }> {
  const providers = options.executionProviders?.length ? options.executionProviders : (['cpu'] as ExecutionProvider[]);
  const log = options.log ?? (() => {});
  const failures: string[] = [];
  for (const provider of providers) {
    if (provider !== 'cuda' && provider !== 'cpu') {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown execution provider '${String(provider)}' (use 'cuda' or 'cpu')`);
    }
    if (provider === 'cuda' && !cudaProviderLibrary()) {
      const why = 'onnxruntime-node has no CUDA provider library here (libonnxruntime_providers_cuda)';
      failures.push(`cuda: ${why}`);
      log(`execution provider cuda unavailable: ${why}`);
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], logSeverityLevel: 3 });
      log(`execution provider: ${provider}`);
      return { session, provider };
    } catch (cause) {
      const why = (cause as Error).message;
      failures.push(`${provider}: ${why}`);
      log(`execution provider ${provider} failed: ${why}`);
    }
  }
  throw new CarboncpError(ErrorCode.SESSION, `could not open an onnxruntime session with any of [${providers.join(', ')}]: ${failures.join('; ')}`);
}
