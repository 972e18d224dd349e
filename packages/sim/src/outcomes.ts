import type { DecisionCandidate, Observation } from '@carboncp/calibrator';
import { carbonGrams, drainMs, radioEnergyJ, type CapacityTrace, type DeviceProfile, type RadioKind } from '@carboncp/carbon';
import { logNormalOf, type LogNormal } from './random-streams.js';

/** What the truth needs of one candidate, computed once. */
interface TruthModel {
  head: LogNormal | null;
  tail: LogNormal | null;
  bitsUp: number;
  bitsDown: number;
  /** The radio's energy for one request of this candidate (0 when nothing crosses). */
  radioJ: number;
}

/** The world one request meets: shared by every candidate (and so by every policy). */
export interface RequestWorld {
  /** Trace time of the network traces at the arrival (ms). */
  traceTimeMs: number;
  /** The device's momentary speed and the server's: one standard normal each, shared by all candidates. */
  zHead: number;
  zTail: number;
  rttMs: number;
  /** Requests ahead in the server's queue, and the mean service time of each. */
  queue: number;
  serviceMs: number;
  deviceIntensity: number;
  serverIntensity: number;
}

export interface OutcomeSettings {
  uplink: CapacityTrace;
  downlink: CapacityTrace;
  device: DeviceProfile;
  radio: RadioKind | undefined;
  devicePowerW: number;
  serverPowerW: number;
  serverPue: number;
  headScale: number;
  tailScale: number;
}

/**
 * Every candidate's true outcome for the request in progress, in typed arrays overwritten per
 * request (candidate order). All policies choose among these same outcomes: common random numbers.
 *
 *   head      = median e^(sigma zHead) x headScale        (lognormal from the profile's p10/median/p90)
 *   transfer  = RTT + drain(bytes up from the head's end) + drain(bytes down after the tail)   (the traces)
 *   server    = queue x serviceMs + tail median e^(sigma zTail) x tailScale
 *   device J  = devicePowerW x head + the radio's energy for the bytes (radioEnergyJ, tail and promotion)
 *   server J  = serverPowerW x PUE x tail (the tail's compute, not the wait)
 *   carbon    = joules x carbonGrams(1 J, grid) per side: device and network at the device grid, server at the server grid
 */
export class Outcomes {
  readonly ids: readonly string[];
  readonly headMs: Float64Array;
  readonly transferMs: Float64Array;
  readonly serverMs: Float64Array;
  readonly latencyMs: Float64Array;
  /** The device's energy: compute and radio (what the battery pays; the decision's deviceEnergyJ). */
  readonly deviceJ: Float64Array;
  readonly computeJ: Float64Array;
  readonly radioJ: Float64Array;
  readonly serverJ: Float64Array;
  readonly carbonDeviceG: Float64Array;
  readonly carbonNetworkG: Float64Array;
  readonly carbonServerG: Float64Array;
  readonly carbonG: Float64Array;
  private readonly models: TruthModel[];

  constructor(
    candidates: readonly DecisionCandidate[],
    private readonly settings: OutcomeSettings,
  ) {
    const n = candidates.length;
    this.ids = candidates.map((c) => c.id);
    const array = () => new Float64Array(n);
    this.headMs = array();
    this.transferMs = array();
    this.serverMs = array();
    this.latencyMs = array();
    this.deviceJ = array();
    this.computeJ = array();
    this.radioJ = array();
    this.serverJ = array();
    this.carbonDeviceG = array();
    this.carbonNetworkG = array();
    this.carbonServerG = array();
    this.carbonG = array();
    this.models = candidates.map((c) => {
      const sends = c.bytesUp + c.bytesDown > 0;
      return {
        head: c.kind === 'server' ? null : logNormalOf(c.head),
        tail: c.kind === 'device' ? null : logNormalOf(c.tail),
        bitsUp: c.bytesUp * 8,
        bitsDown: c.bytesDown * 8,
        radioJ: sends ? radioEnergyJ(settings.device, settings.radio!, c.bytesUp, c.bytesDown) : 0,
      };
    });
  }

  /** Draws every candidate's outcome in `w`. */
  draw(w: RequestWorld): void {
    const s = this.settings;
    // Grams per joule at each grid this request (the carbon package's conversion, once per request).
    const deviceGPerJ = carbonGrams(1, w.deviceIntensity);
    const serverGPerJ = carbonGrams(1, w.serverIntensity);
    for (let k = 0; k < this.models.length; k += 1) {
      const m = this.models[k]!;
      const head = m.head ? Math.exp(m.head.mu + m.head.sigma * w.zHead) * s.headScale : 0;
      let transfer = 0;
      let server = 0;
      let serverJ = 0;
      if (m.tail || m.bitsUp > 0 || m.bitsDown > 0) {
        const sent = w.traceTimeMs + head;
        const up = m.bitsUp > 0 ? drainMs(s.uplink, sent, m.bitsUp) : 0;
        const tail = m.tail ? Math.exp(m.tail.mu + m.tail.sigma * w.zTail) * s.tailScale : 0;
        server = w.queue * w.serviceMs + tail;
        const down = m.bitsDown > 0 ? drainMs(s.downlink, sent + up + w.rttMs + server, m.bitsDown) : 0;
        transfer = w.rttMs + up + down;
        serverJ = (s.serverPowerW * s.serverPue * tail) / 1000;
      }
      const computeJ = (s.devicePowerW * head) / 1000;
      this.headMs[k] = head;
      this.transferMs[k] = transfer;
      this.serverMs[k] = server;
      this.latencyMs[k] = head + transfer + server;
      this.computeJ[k] = computeJ;
      this.radioJ[k] = m.radioJ;
      this.deviceJ[k] = computeJ + m.radioJ;
      this.serverJ[k] = serverJ;
      const device = computeJ * deviceGPerJ;
      const network = m.radioJ * deviceGPerJ;
      const onServer = serverJ * serverGPerJ;
      this.carbonDeviceG[k] = device;
      this.carbonNetworkG[k] = network;
      this.carbonServerG[k] = onServer;
      this.carbonG[k] = device + network + onServer;
    }
  }

  /** Candidate k's outcome as the calibrator learns it (every part; a device measures them all). */
  observation(k: number): Observation {
    return {
      latencyMs: this.latencyMs[k]!,
      headMs: this.headMs[k]!,
      transferMs: this.transferMs[k]!,
      serverMs: this.serverMs[k]!,
      deviceEnergyJ: this.deviceJ[k]!,
      carbonG: this.carbonG[k]!,
    };
  }
}
