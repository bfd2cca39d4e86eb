/**
 * The benchmark's chart: one group of horizontal bars per workload, one bar per server, each bar's length
 * its requests/s over the fastest server's in that group, labelled with the figure. A plain SVG string,
 * no dependencies; bench/report.ts writes it to bench/results.svg and the README shows it.
 */

export interface ChartBar {
  readonly label: string;
  /** The median rate; the bar is left out if undefined (the server was not run or failed). */
  readonly value: number | undefined;
  /** Drawn in the accent colour (Peregrine). */
  readonly highlight: boolean;
}

export interface ChartGroup {
  readonly title: string;
  readonly bars: readonly ChartBar[];
}

const WIDTH = 860;
const LABEL_WIDTH = 130;
const VALUE_WIDTH = 120;
const BAR_HEIGHT = 16;
const BAR_GAP = 4;
const TITLE_HEIGHT = 24;
const GROUP_GAP = 14;
const MARGIN = 16;
const ACCENT = '#d9480f';
const PLAIN = '#868e96';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The SVG document for `groups`, titled `heading`, with `unit` after each figure (`req/s`). */
export function renderChart(heading: string, groups: readonly ChartGroup[], unit: string): string {
  const barSpan = WIDTH - 2 * MARGIN - LABEL_WIDTH - VALUE_WIDTH;
  const parts: string[] = [];
  let y = MARGIN + 20;
  parts.push(`<text x="${MARGIN}" y="${y}" class="heading">${escapeXml(heading)}</text>`);
  y += 12;
  for (const group of groups) {
    const bars = group.bars.filter((bar) => bar.value !== undefined && bar.value > 0);
    if (bars.length === 0) continue;
    const best = Math.max(...bars.map((bar) => bar.value ?? 0));
    y += GROUP_GAP + TITLE_HEIGHT - 8;
    parts.push(`<text x="${MARGIN}" y="${y}" class="title">${escapeXml(group.title)}</text>`);
    y += 8;
    for (const bar of bars) {
      const value = bar.value ?? 0;
      const length = Math.max(1, Math.round((value / best) * barSpan));
      const x = MARGIN + LABEL_WIDTH;
      const fill = bar.highlight ? ACCENT : PLAIN;
      const textY = y + BAR_HEIGHT - 4;
      parts.push(
        `<text x="${x - 8}" y="${textY}" class="label" text-anchor="end">${escapeXml(bar.label)}</text>`,
        `<rect x="${x}" y="${y}" width="${length}" height="${BAR_HEIGHT}" rx="2" fill="${fill}"/>`,
        `<text x="${x + length + 6}" y="${textY}" class="value">` +
          `${escapeXml(`${Math.round(value).toLocaleString('en-US')} ${unit}`)}</text>`,
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
  }
  const height = y + MARGIN;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${WIDTH} ${height}" role="img" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<title>${escapeXml(heading)}</title>`,
    '<style>.heading{font-size:16px;font-weight:600;fill:#212529}.title{font-size:13px;font-weight:600;' +
      'fill:#343a40}.label,.value{font-size:12px;fill:#495057}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
