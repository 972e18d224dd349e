import { vegaLiteSvg, type TopLevelSpec } from './vega-svg.js';

export interface ReportSection {
  title: string;
  /** A sentence on what the chart shows and how to read it. */
  caption?: string;
  /** A table of the section's numbers, above its chart. */
  table?: ReportTable;
  chart: TopLevelSpec;
}

export interface ReportTable {
  columns: string[];
  rows: (string | number)[][];
}

export interface HtmlReport {
  title: string;
  /** Lines under the title: what was run, on which data, with which assumptions. */
  subtitle: string[];
  table: ReportTable;
  sections: ReportSection[];
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One self-contained HTML file: every chart inline as SVG, no script, nothing fetched. */
export async function renderHtmlReport(report: HtmlReport): Promise<string> {
  const charts = await Promise.all(report.sections.map((s) => vegaLiteSvg(s.chart)));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(report.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; } figure { margin: 2rem 0; } figcaption { color: #555; }
</style></head><body>
<h1>${escape(report.title)}</h1>
${report.subtitle.map((line) => `<p>${escape(line)}</p>`).join('\n')}
${tableHtml(report.table)}
${report.sections.map((s, i) => `<figure><h2>${escape(s.title)}</h2>${s.table ? tableHtml(s.table) : ''}${charts[i]}${s.caption ? `<figcaption>${escape(s.caption)}</figcaption>` : ''}</figure>`).join('\n')}
</body></html>
`;
}

function tableHtml(table: ReportTable): string {
  const cell = (v: string | number) => `<td>${escape(typeof v === 'number' ? formatNumber(v) : v)}</td>`;
  return `<table><thead><tr>${table.columns.map((c) => `<th>${escape(c)}</th>`).join('')}</tr></thead>
<tbody>${table.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n')}</tbody></table>`;
}

/** A number as the report prints it (exported for the tests that read numbers back). */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(3);
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 4);
}
