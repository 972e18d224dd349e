// Node-only additions (files, sensors); the platform-neutral API is '@carboncp/carbon'.
export { readTextFile, zoneFromFileName, traceProviderFromFile, nodeProviderFactories, nodeProviderContext } from './trace-file.js';
export { loadDeviceProfiles, loadDeviceProfile, loadDeviceProfileFile, SHIPPED_DEVICE_PROFILES_DIR } from './device-profiles.js';
export { loadGpuPowerCapCurves, SHIPPED_GPU_POWER_CAPS_FILE } from './gpu-power-caps-file.js';
