// The report's markdown tables: each server's median figures and Peregrine's ratios to its peers.
import { formatInteger, formatMiB, formatMicros, formatMillis, formatRatio } from './format.ts';
import type { Measurement, RunResult, SectionResults, WorkloadResults } from './results.ts';
import { runsWorkload, type Section, type ServerSpec, type Workload } from './sections.ts';
import {
  idleBytes,
  idleWebSocketRatio,
  isIdleWebSocket,
  measurements,
  median,
  medianOf,
  pairRatios,
  scalingRatio,
} from './stats.ts';

/** A per-server median cell: `—` if the server was not run, `failed` if no run succeeded. */
function medianCell(
  runs: readonly RunResult[] | undefined,
  pick: (m: Measurement) => number,
  format: (value: number) => string,
): string {
  if (runs === undefined) return '—';
  const ok = measurements(runs);
  if (ok.length === 0) return 'failed';
  const cell = format(median(ok.map(pick)));
  return ok.length === runs.length ? cell : `${cell} (${ok.length}/${runs.length} ok)`;
}

/** The first column: the workload in the comparison section, the worker count in the scaling section. */
function rowLabel(section: Section, workload: Workload): string {
  return section.id === 'scaling' ? String(workload.workers) : workload.name;
}

/** Median of the Peregrine/`peer` run-pair ratios with their spread (`2.21 (2.04–3.40)`), or `—`. */
function ratioCell(results: WorkloadResults, peregrine: ServerSpec, peer: ServerSpec): string {
  const ours = results.runs.get(peregrine.id);
  const theirs = results.runs.get(peer.id);
  const ratios = ours && theirs ? pairRatios(ours, theirs) : [];
  if (ratios.length === 0) return '—';
  const spread = `${formatRatio(Math.min(...ratios))}–${formatRatio(Math.max(...ratios))}`;
  return ratios.length === 1 ? formatRatio(ratios[0]!) : `${formatRatio(median(ratios))} (${spread})`;
}

/** A section's main table: each server's median rate, and Peregrine's ratio to each peer (with spread). */
export function resultsTable({ selected, results }: SectionResults): string {
  const { peregrine, unit } = selected.section;
  const peers = selected.section.peers.filter((peer) => selected.servers.includes(peer));
  const header = [
    selected.section.id === 'scaling' ? 'Workers' : 'Workload',
    `${peregrine.label} ${unit}/s`,
    ...peers.flatMap((peer) => [`${peer.label} ${unit}/s`, `${peregrine.label}/${peer.label}`]),
  ];
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  const rows = results.map((r) => {
    const cells = [
      rowLabel(selected.section, r.workload),
      medianCell(r.runs.get(peregrine.id), (m) => m.perSecond, formatInteger),
      ...peers.flatMap((peer) => [
        medianCell(r.runs.get(peer.id), (m) => m.perSecond, formatInteger),
        ratioCell(r, peregrine, peer),
      ]),
    ];
    return `| ${cells.join(' | ')} |`;
  });
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
}

/** A median over the runs that have the figure, or `—` where none has it (a figure nginx has no way to give). */
function optionalMedianCell(
  runs: readonly RunResult[] | undefined,
  pick: (m: Measurement) => number | null,
  format: (value: number) => string,
): string {
  const value = medianOf(runs, pick);
  return value === undefined ? '—' : format(value);
}

/**
 * The figures behind each rate, one row per workload and server: CPU time per request, latency
 * percentiles, young-generation collections per 100k requests and peak resident memory (medians).
 */
export function detailsTable({ selected, results }: SectionResults): string {
  const unit = selected.section.unit;
  const header = [
    selected.section.id === 'scaling' ? 'Workers' : 'Workload',
    'Server',
    `CPU µs/${unit}`,
    'p50 ms',
    'p99 ms',
    `minor GCs per 100k ${unit}`,
    'peak RSS MiB',
  ];
  const align = header.map((_, i) => (i < 2 ? '---' : '---:'));
  const rows: string[] = [];
  for (const r of results) {
    for (const spec of selected.servers) {
      if (!runsWorkload(r.workload, spec)) continue; // a pubsub row runs Peregrine and one peer
      const runs = r.runs.get(spec.id);
      const cells = [
        rowLabel(selected.section, r.workload),
        spec.label,
        medianCell(runs, (m) => m.cpuMicrosPerUnit, formatMicros),
        optionalMedianCell(runs, (m) => m.p50Ms, formatMillis),
        optionalMedianCell(runs, (m) => m.p99Ms, formatMillis),
        optionalMedianCell(
          runs,
          (m) => (m.minorGcs === null ? null : (m.minorGcs * 100_000) / m.count),
          (v) => v.toFixed(0),
        ),
        medianCell(runs, (m) => m.peakRssBytes, formatMiB),
      ];
      rows.push(`| ${cells.join(' | ')} |`);
    }
  }
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
}

/** The line quoting how each server scales from 1 to 2 workers; '' unless both worker counts were run. */
export function scalingLine({ selected, results }: SectionResults): string {
  if (!results.some((r) => r.workload.workers === 1) || !results.some((r) => r.workload.workers === 2))
    return '';
  const parts = selected.servers.map((spec) => {
    const ratio = scalingRatio(results, spec, 2);
    return `${spec.label} ${ratio === undefined ? '—' : `${formatRatio(ratio)}×`}`;
  });
  return `Scaling, 2 workers over 1 worker (median req/s over median req/s): ${parts.join(', ')}.\n`;
}

/** Every failed run, one line each (the first line of its error); '' if none failed. */
export function failureList({ selected, results }: SectionResults): string {
  const lines: string[] = [];
  for (const { workload, runs } of results) {
    for (const spec of selected.servers) {
      runs.get(spec.id)?.forEach((run, i) => {
        if (!run.ok)
          lines.push(`- ${workload.name} · ${spec.label} · run ${i + 1}: ${run.error.split('\n')[0]}`);
      });
    }
  }
  return lines.length === 0
    ? ''
    : `Failed runs (left out of the medians and ratios):\n\n${lines.join('\n')}\n`;
}

/**
 * The idle section's table: memory before, with the connections, and per connection; ratios to
 * Peregrine. Then, when both were run, Peregrine's idle WebSocket over its idle HTTP connection.
 */
export function idleTable({ selected, results }: SectionResults): string {
  const header = [
    'Connections',
    'Server',
    'RSS before MiB',
    'RSS with the connections MiB',
    'KB per idle connection',
    'Peregrine/server',
  ];
  const align = header.map((_, i) => (i < 2 ? '---' : '---:'));
  const rows: string[] = [];
  for (const r of results) {
    const websocket = isIdleWebSocket(r.workload);
    const oursPer = medianOf(r.runs.get(selected.section.peregrine.id), idleBytes);
    for (const spec of selected.servers) {
      const runs = r.runs.get(spec.id);
      if (websocket && runs === undefined) continue; // Peregrine's row only
      const per = medianOf(runs, idleBytes);
      rows.push(
        `| ${[
          websocket ? 'WebSocket' : 'HTTP keep-alive',
          spec.label,
          medianCell(runs, (m) => m.idleRss?.before ?? 0, formatMiB),
          medianCell(runs, (m) => m.idleRss?.after ?? 0, formatMiB),
          medianCell(runs, idleBytes, (v) => (v / 1000).toFixed(1)),
          !websocket && oursPer !== undefined && per !== undefined && per > 0
            ? formatRatio(oursPer / per)
            : '—',
        ].join(' | ')} |`,
      );
    }
  }
  const table = [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
  const ratio = idleWebSocketRatio({ selected, results });
  return ratio === undefined
    ? table
    : `${table}\n\nAn idle WebSocket costs Peregrine ${formatRatio(ratio)}× an idle HTTP keep-alive connection (target ≤ 2×).`;
}
