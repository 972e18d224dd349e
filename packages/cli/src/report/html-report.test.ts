import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from './html-report.js';

describe('renderHtmlReport', () => {
  it('renders Vega-Lite charts to inline SVG in one self-contained file', async () => {
    const html = await renderHtmlReport({
      title: 'A <test> report',
      subtitle: ['seed 1'],
      table: { columns: ['policy', 'carbon g'], rows: [['oracle', 1.5e-5], ['device', 12.25]] },
      sections: [
        {
          title: 'Carbon over time',
          caption: 'one line per policy',
          chart: {
            data: { values: [{ t: 0, g: 1, p: 'a' }, { t: 1, g: 3, p: 'a' }, { t: 0, g: 2, p: 'b' }, { t: 1, g: 2.5, p: 'b' }] },
            mark: 'line',
            encoding: { x: { field: 't', type: 'quantitative' }, y: { field: 'g', type: 'quantitative' }, color: { field: 'p', type: 'nominal' } },
          },
        },
      ],
    });
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('A &lt;test&gt; report');
    expect(html).toContain('<svg');
    expect((html.match(/<path/g) ?? []).length).toBeGreaterThan(2); // the two lines, the axes
    expect(html).toContain('<td>1.500e-5</td>');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // nothing runs, nothing is fetched
  });
});
