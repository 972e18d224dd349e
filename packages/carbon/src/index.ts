export { checkHours, MAX_FORECAST_HOURS } from './intensity.js';
export type { IntensityKind, IntensityPoint, IntensityProvider, IntensityQuery, IntensitySignal } from './intensity.js';
export { StaticProvider, type StaticProviderOptions } from './providers/static.js';
export { TraceProvider, TRACE_WRAPS, type TraceProviderOptions, type TraceWrap } from './providers/trace.js';
export { parseTraceCsv, parseUtcTime, splitCsvLine, TRACE_STEPS_MINUTES, type ParseTraceOptions, type ParsedTrace, type TraceSeries } from './providers/trace-csv.js';
export { createForecaster, forecastSeries, isForecastMethod, DEFAULT_FORECAST_METHOD, FORECAST_METHODS, type ForecastMethod, type Forecaster, type ForecasterOptions } from './forecast.js';
export { parseProviderSpec, createProvider, checkSpecKeys, staticFactory, csvFactory, CSV_SPEC_KEYS, type ProviderSpec, type ProviderContext, type ProviderFactory, type ProviderFactories } from './provider-spec.js';
export { ukCarbonIntensity, UK_CARBON_INTENSITY_SOURCE, UK_CARBON_INTENSITY_URL, UK_NATIONAL_ZONE, type UkCarbonIntensityOptions } from './providers/http/uk-carbon-intensity.js';
export { electricityMaps, ELECTRICITY_MAPS_SOURCE, ELECTRICITY_MAPS_URL, type ElectricityMapsOptions } from './providers/http/electricity-maps.js';
export { wattTime, lbsPerMwhToGPerKwh, G_PER_KWH_PER_LB_PER_MWH, WATTTIME_SOURCE, WATTTIME_URL, type WattTimeOptions } from './providers/http/watttime.js';
export { carbonAwareSdk, timeSpanMinutes, CARBON_AWARE_SDK_SOURCE, type CarbonAwareSdkOptions } from './providers/http/carbon-aware-sdk.js';
export { HttpJsonClient, withLastKnown, parseRetryAfter, type FetchLike, type HttpProviderOptions, type LastKnownProvider } from './providers/http/http-layer.js';
export { httpProviderFactories, PROVIDER_ENV } from './providers/http/spec-factories.js';
export {
  parseDeviceProfile,
  estimatePowerW,
  powerModelSource,
  radioEnergyJ,
  relativeSpeed,
  DEVICE_PROFILE_SCHEMA_VERSION,
  REFERENCE_DEVICE_PROFILE_ID,
  RADIO_KINDS,
  DEVICE_CLASSES,
  MIN_SOURCE_LENGTH,
  type DeviceProfile,
  type Quantity,
  type QuantityKind,
  type RadioKind,
  type RadioProfile,
  type SpeedProfile,
  type DeviceClass,
  type RadioEnergyOptions,
} from './device-profile.js';
export {
  JOULES_PER_KWH,
  carbonGrams,
  combineKinds,
  sumEnergy,
  powerTimeEnergy,
  checkPue,
  radioEnergyPart,
  sideFootprint,
  requestFootprint,
  footprintFromTelemetry,
  type EnergyKind,
  type EnergyPart,
  type SideFootprint,
  type RequestFootprint,
  type FootprintInput,
  type TelemetryEnergy,
  type TelemetryFootprintOptions,
} from './accounting.js';
export { parseNetworkTrace, checkCapacityTrace, capacityAt, drainMs, meanCapacity, type CapacityTrace, type NetworkTraceOptions } from './network-trace.js';
export { parseSiteTrace, siteIndexAt, siteWaterLPerKwh, SITE_TRACE_SOURCE, type SiteSeries } from './site-trace.js';
export {
  GPU_POWER_CAPS_SCHEMA_VERSION,
  parseGpuPowerCapCurves,
  powerCapEffect,
  type PowerCapCurve,
  type PowerCapCurves,
  type PowerCapPoint,
} from './gpu-power-caps.js';
