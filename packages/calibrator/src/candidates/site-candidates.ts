import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { candidateId, type DecisionCandidate } from './candidate.js';

/** A server site the tails can run at: its name (the key of DecisionContext.sites) and its distance. */
export interface SiteSpec {
  site: string;
  /** Extra RTT to this site over the context's RTT (ms); default 0 (the nearest). */
  rttMs?: number;
  /** Extra tail compute time at this site (ms), e.g. slower servers; default 0. */
  tailOffsetMs?: number;
}

/**
 * Every remote candidate ('server', 'split') once per site, with `site`, its id suffixed
 * `@site`, its RTT offset and its tail shifted by the site's offset; 'device' candidates stay
 * once, unchanged, so a request always has a local way out when every site is down.
 * CARBONCP_INVALID_ARGUMENT for no sites, a duplicate or empty site, a negative offset, or a
 * candidate that already has a site.
 */
export function candidatesForSites(candidates: readonly DecisionCandidate[], sites: readonly SiteSpec[]): DecisionCandidate[] {
  if (sites.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'candidatesForSites needs at least one site');
  const seen = new Set<string>();
  for (const s of sites) {
    if (typeof s.site !== 'string' || s.site === '' || seen.has(s.site)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `site names must be non-empty and distinct, got ${JSON.stringify(s.site)}`);
    seen.add(s.site);
    for (const [field, v] of [['rttMs', s.rttMs], ['tailOffsetMs', s.tailOffsetMs]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `site '${s.site}': ${field} must be a finite number >= 0, got ${v}`);
    }
  }
  const out: DecisionCandidate[] = [];
  for (const c of candidates) {
    if (c.site !== undefined) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}' already has a site ('${c.site}')`);
    if (c.kind === 'device') {
      out.push({ ...c });
      continue;
    }
    for (const s of sites) {
      const shift = s.tailOffsetMs ?? 0;
      const tail = shift === 0 ? { ...c.tail } : { ...c.tail, medianMs: c.tail.medianMs + shift, p10Ms: c.tail.p10Ms + shift, p90Ms: c.tail.p90Ms + shift, meanMs: c.tail.meanMs + shift };
      out.push({ ...c, id: candidateId({ planId: c.planId, compression: c.compression, variant: c.variant, site: s.site }), tail, site: s.site, siteRttMs: s.rttMs ?? 0 });
    }
  }
  return out;
}
