/**
 * @carboncp/device/browser: the device SDK for web pages, workers and Electron renderers. The
 * client logic is the platform-neutral one (the package's `.` entry, re-exported here); this
 * entry binds it to onnxruntime-web (WebGPU, then WASM) and the browser's WebSocket. Nothing it
 * imports touches node:*, Buffer, onnxruntime-node or ws (test/browser checks a bundle of it).
 */
export * from './index.js';
export { createClient, type BrowserClient, type BrowserClientOptions } from './browser/create-client.js';
export { createFamilyClient, type BrowserFamilyClient, type BrowserFamilyClientOptions, type BrowserVariantSource } from './browser/create-family-client.js';
export { OrtWebRuntime, type BrowserExecutionProvider, type OrtWebRuntimeOptions, type ProviderNote } from './browser/ort-web-runtime.js';
export { BrowserWebSocketTransport, browserCloseCode, closeReason, type BrowserWebSocketTransportOptions } from './browser/websocket-transport.js';
export {
  BrowserBatterySource,
  NO_BATTERY_API,
  browserBatterySource,
  connectionHint,
  sampleBrowserContext,
  type BrowserContext,
  type ConnectionHint,
} from './browser/browser-context.js';
