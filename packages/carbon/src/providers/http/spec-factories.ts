import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkSpecKeys, type ProviderContext, type ProviderFactories, type ProviderSpec } from '../../provider-spec.js';
import { carbonAwareSdk } from './carbon-aware-sdk.js';
import { electricityMaps } from './electricity-maps.js';
import type { FetchLike } from './http-layer.js';
import { ukCarbonIntensity } from './uk-carbon-intensity.js';
import { wattTime } from './watttime.js';

/** Environment variables the HTTP specs read their keys from (never from the spec: it lands in logs and shell history). */
export const PROVIDER_ENV = {
  electricityMapsKey: 'ELECTRICITYMAPS_API_KEY',
  wattTimeUser: 'WATTTIME_USERNAME',
  /** WattTime's own Python SDK reads this name. */
  wattTimeUserAlias: 'WATTTIME_USER',
  wattTimePassword: 'WATTTIME_PASSWORD',
} as const;

function required(spec: ProviderSpec, context: ProviderContext, name: string): string {
  const value = context.env?.[name];
  if (!value) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `provider '${spec.name}' needs the environment variable ${name}`);
  return value;
}

function zoneOf(spec: ProviderSpec): string {
  const zone = spec.options.zone;
  if (!zone) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `provider '${spec.name}' needs a zone (zone=Z in the spec, or --zone)`);
  return zone;
}

function fetchOf(context: ProviderContext): { fetch?: FetchLike } {
  return context.fetch ? { fetch: context.fetch as unknown as FetchLike } : {};
}

/**
 * `uk[,zone=GB|GB-<1..17>|<postcode>]`, `electricitymaps,zone=Z`, `watttime,zone=REGION`,
 * `carbon-aware-sdk:URL,zone=LOCATION`: the HTTP providers from a spec, keys from the
 * environment (PROVIDER_ENV).
 */
export const httpProviderFactories: ProviderFactories = {
  uk: (spec, context) => {
    checkSpecKeys(spec, ['zone']);
    const zone = spec.options.zone ?? 'GB';
    const region = /^GB-(\d+)$/i.exec(zone);
    if (zone.toUpperCase() === 'GB') return ukCarbonIntensity(fetchOf(context));
    if (region) return ukCarbonIntensity({ regionId: Number(region[1]), ...fetchOf(context) });
    return ukCarbonIntensity({ postcode: zone, ...fetchOf(context) });
  },
  electricitymaps: (spec, context) => {
    checkSpecKeys(spec, ['zone']);
    return electricityMaps({ apiKey: required(spec, context, PROVIDER_ENV.electricityMapsKey), zone: zoneOf(spec), ...fetchOf(context) });
  },
  watttime: (spec, context) => {
    checkSpecKeys(spec, ['zone']);
    const username = context.env?.[PROVIDER_ENV.wattTimeUser] || context.env?.[PROVIDER_ENV.wattTimeUserAlias];
    if (!username) required(spec, context, PROVIDER_ENV.wattTimeUser);
    return wattTime({
      username: username as string,
      password: required(spec, context, PROVIDER_ENV.wattTimePassword),
      region: zoneOf(spec),
      ...fetchOf(context),
    });
  },
  'carbon-aware-sdk': (spec, context) => {
    checkSpecKeys(spec, ['zone']);
    if (!spec.argument || !/^https?:\/\//.test(spec.argument)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `carbon-aware-sdk needs the WebAPI's URL, as in carbon-aware-sdk:http://host:8080; got '${spec.text}'`);
    }
    return carbonAwareSdk({ baseUrl: spec.argument, location: zoneOf(spec), ...fetchOf(context) });
  },
};
