/** Whether an operator domain is the default ONNX one, which files write as '' or 'ai.onnx'. */
export function isDefaultDomain(domain: string): boolean {
  return domain === '' || domain === 'ai.onnx';
}

/** onnxruntime's contrib ops (Gelu, FusedConv, ... as its optimiser writes them). */
export const MICROSOFT_DOMAIN = 'com.microsoft';
