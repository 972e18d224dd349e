export { readModelFile } from './read-model.js';
export { ocrModelPath, type OcrModelFile } from './ocr-model-path.js';
export { createSession, cudaProviderLibrary, type CreateSessionOptions, type ExecutionProvider } from './session.js';
