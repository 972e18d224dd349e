import type { Item } from './context-item.js';
import type { DeviceSection, PowerSection } from './device-context.js';
import type { ServerSection } from './server-section.js';

/** The grid intensity at the device: a provider's point, labelled as the provider labelled it. */
export type CarbonItem = Item<number> & { zone?: string; time?: string; durationMinutes?: number; signal?: string; stale?: boolean };

/** What `carboncp context --json` prints: these names are a public contract (packages/cli/README.md). */
export interface ContextReport {
  time: string;
  device: DeviceSection;
  power: PowerSection;
  carbon: CarbonItem;
  server: ServerSection | null;
}

function number(value: number, unit: string | undefined): string {
  if (unit === 'bit/s') {
    const [scale, name] = value >= 1e9 ? [1e9, 'Gbit/s'] : value >= 1e6 ? [1e6, 'Mbit/s'] : value >= 1e3 ? [1e3, 'kbit/s'] : [1, 'bit/s'];
    return `${(value / scale).toFixed(1)} ${name}`;
  }
  const digits = Number.isInteger(value) ? 0 : Math.abs(value) >= 100 ? 1 : 3;
  return `${value.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

function valueText(entry: Item<unknown>): string {
  const { value, unit } = entry;
  if (value === null) return '-';
  if (typeof value === 'number') return number(value, unit);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.join(' ');
  if (typeof value === 'object') {
    const pairs = Object.entries(value as Record<string, number>);
    return pairs.length === 0 ? '(none yet)' : pairs.map(([key, ms]) => `${key} ${number(ms, unit)}`).join(', ');
  }
  return String(value);
}

type Row = [string, Item<unknown>];

function rows(report: ContextReport): { title: string; rows: Row[] }[] {
  const { device, power, carbon, server } = report;
  const sections: { title: string; rows: Row[] }[] = [
    {
      title: `device${device.profile ? ` (profile ${device.profile.id}: ${device.profile.name})` : ''}`,
      rows: [['cpu', device.cpu], ['cores', device.cores], ['os', device.os], ['node', device.node], ['load average', device.loadAverage]],
    },
    {
      title: `power (${power.windowMs > 0 ? `two readings ${power.windowMs.toFixed(0)} ms apart` : 'one reading'})`,
      rows: [
        ['power', power.watts],
        ['energy, window', power.windowEnergyJ],
        ['battery level', power.battery.levelPercent],
        ['charging', power.battery.charging],
        ['external power', power.battery.externalPower],
        ['battery full', power.battery.fullWh],
      ],
    },
    { title: `carbon${carbon.zone ? ` (zone ${carbon.zone}${carbon.stale ? ', stale' : ''})` : ''}`, rows: [['intensity', carbon]] },
  ];
  if (server) {
    const models = server.server.models.map((m) => `${m.name} (${m.plans} plans)`).join(', ') || 'none';
    sections.push({
      title: `server ${server.url}: ${server.server.name}, ${server.server.executionProvider}; models: ${models}`,
      rows: [
        ['ready', server.ready],
        ['rtt (pings)', server.rttMs],
        ['rtt (estimate)', server.network.rttMs],
        ['uplink', server.network.uplinkBps],
        ['queue depth', server.queueDepth],
        ['in flight', server.inFlight],
        ['tail time', server.tailMs],
        ['carbon intensity', server.carbonIntensity],
      ],
    });
  }
  return sections;
}

/** The text form: one line per item, value, kind and source in columns; then detection notes. */
export function contextTable(report: ContextReport): string {
  const sections = rows(report);
  const all = sections.flatMap((s) => s.rows);
  const nameWidth = Math.max(...all.map(([name]) => name.length)) + 2;
  const valueWidth = Math.min(40, Math.max(...all.map(([, entry]) => valueText(entry).length))) + 2;
  const lines = [`carboncp context at ${report.time}`];
  for (const section of sections) {
    lines.push('', section.title);
    for (const [name, entry] of section.rows) {
      lines.push(`  ${name.padEnd(nameWidth)}${valueText(entry).padEnd(valueWidth)}${entry.kind.padEnd(12)}${entry.source}`);
    }
  }
  lines.push('', 'power sources tried:', ...report.power.detection.map((note) => `  ${note}`));
  if (report.power.diagnostics.length > 0) lines.push('', 'power diagnostics:', ...report.power.diagnostics.map((note) => `  ${note}`));
  return lines.join('\n');
}
