import { cudaProviderLibrary, type ExecutionProvider } from '@carboncp/core/node';

/**
 * The provider the server expects its tails to run on, decided at startup so that HelloAck and
 * the log can say it before any session exists: the first requested provider that is usable
 * here. CUDA counts as usable when onnxruntime-node's CUDA provider library is installed; if a
 * session later fails to open on CUDA, core's createSession falls back and the server reports
 * the provider sessions really got.
 */
export function resolveExecutionProvider(requested: readonly ExecutionProvider[]): { provider: ExecutionProvider | null; reason: string } {
  for (const provider of requested) {
    if (provider === 'cpu') {
      const skipped = requested.includes('cuda') && requested.indexOf('cuda') < requested.indexOf('cpu');
      return {
        provider,
        reason: skipped ? 'cuda was requested, but onnxruntime-node has no CUDA provider library here (libonnxruntime_providers_cuda)' : 'requested',
      };
    }
    const library = cudaProviderLibrary();
    if (library) return { provider, reason: `CUDA provider library found at ${library}` };
  }
  return {
    provider: null,
    reason: `none of [${requested.join(', ')}] is usable here: onnxruntime-node has no CUDA provider library (libonnxruntime_providers_cuda); allow 'cpu' as a fallback`,
  };
}
