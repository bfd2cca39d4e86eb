import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from '../../bench/chart.ts';

/** The bars of a rendered chart, in order: [width, fill]. */
function bars(svg: string): [number, string][] {
  return [
    ...svg.matchAll(/<rect x="\d+" y="\d+" width="(\d+)" height="16" rx="2" fill="(#[0-9a-f]+)"\/>/g),
  ].map((m) => [Number(m[1]), m[2]!]);
}

test('each group scales its bars to its fastest server and labels them with the figure', () => {
  const svg = renderChart(
    'Requests/s',
    [
      {
        title: 'plain /',
        bars: [
          { label: 'Peregrine', value: 50_000, highlight: true },
          { label: 'node:http', value: 12_500, highlight: false },
        ],
      },
      { title: 'json', bars: [{ label: 'Peregrine', value: 900, highlight: true }] },
    ],
    'req/s',
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="860" height="\d+"/);
  assert.match(svg, /<title>Requests\/s<\/title>/);
  const [fastest, quarter, alone] = bars(svg);
  assert.ok(Math.abs(quarter![0] * 4 - fastest![0]) <= 4); // a quarter of the length, to the pixel
  assert.equal(alone![0], fastest![0]); // its own group's fastest
  assert.notEqual(fastest![1], quarter![1]); // Peregrine stands out
  assert.ok(svg.includes('>50,000 req/s<') && svg.includes('>12,500 req/s<') && svg.includes('>900 req/s<'));
});

test('servers without a figure are left out, and text is escaped', () => {
  const svg = renderChart(
    'a <b> & "c"',
    [
      {
        title: 'x < y',
        bars: [
          { label: 'ok', value: 10, highlight: false },
          { label: 'failed', value: undefined, highlight: false },
        ],
      },
      { title: 'nothing ran', bars: [{ label: 'none', value: undefined, highlight: true }] },
    ],
    'req/s',
  );
  assert.equal(bars(svg).length, 1);
  assert.ok(!svg.includes('failed') && !svg.includes('nothing ran'));
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;') && svg.includes('x &lt; y'));
  assert.ok(!/<b>/.test(svg));
});
