// The report: the progress line of each run, and at the end the markdown tables on stdout and in
// bench/RESULTS.md, and the chart in bench/results.svg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChartGroup, renderChart } from './chart.ts';
import type { Config } from './config.ts';
import { formatInteger, formatMiB, formatMicros, plural } from './format.ts';
import { sectionIntro } from './intros.ts';
import { progress } from './log.ts';
import { cpuCount } from './machine.ts';
import { LOAD_CPU, SERVER_CPU } from './processes.ts';
import type { RunResult, SectionResults } from './results.ts';
import type { Section } from './sections.ts';
import { idleBytes, measurements, median, targetFigures } from './stats.ts';
import { detailsTable, failureList, idleTable, resultsTable, scalingLine } from './tables.ts';
import { checkTargets, targetsTable } from './targets.ts';

const RESULTS_FILE = join(import.meta.dirname, 'RESULTS.md');
const CHART_FILE = join(import.meta.dirname, 'results.svg');

/** The load generator of a section, as named in the progress output. */
function loadName(section: Section): string {
  if (section.id === 'http2') return 'h2load';
  if (section.id === 'pubsub') return 'pubsub-load';
  return section.unit === 'msg' ? 'ws-load' : 'wrk';
}

/** The first line: when, on what, and how the runs were loaded. */
function summaryLine(config: Config): string {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  // The http2 section (h2load, its own connections) states them above its table, like the websocket one.
  const http = config.sections.some((s) => s.section.unit === 'req' && s.section.id !== 'http2');
  const loader = config.sections.some((s) => s.section.id === 'http2')
    ? 'h2load'
    : config.sections.some((s) => s.section.id === 'websocket')
      ? 'ws-load'
      : config.sections.some((s) => s.section.id === 'pubsub')
        ? 'pubsub-load'
        : 'idle-load';
  return [
    date,
    `Node ${process.version}`,
    `nproc ${cpuCount()}`,
    `${plural(config.runs, 'run')} × ${config.seconds} s`,
    // The websocket section states its own connections and load generator above its table.
    ...(http
      ? [plural(config.connections, 'connection'), `server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}`]
      : [`server on CPU ${SERVER_CPU}, ${loader} on CPU ${LOAD_CPU}`]),
  ].join(' · ');
}

function sectionReport(
  section: SectionResults,
  config: Config,
  uwsNote: string | undefined,
  pubSubNote?: string,
): string {
  const intro = sectionIntro(section.selected.section.id, config, uwsNote, pubSubNote);
  const failures = failureList(section);
  if (section.selected.section.id === 'idle') {
    return `${intro}\n\n${idleTable(section)}\n${failures === '' ? '' : `\n${failures}`}`;
  }
  const parts = [`${intro}\n\n`, resultsTable(section), '\n\n', detailsTable(section), '\n'];
  const scaling = scalingLine(section);
  if (scaling !== '') parts.push(`\n${scaling}`);
  if (failures !== '') parts.push(`\n${failures}`);
  return parts.join('');
}

/** The chart's groups: every workload of the comparison and static sections, one bar per server run. */
function chartGroups(all: readonly SectionResults[]): ChartGroup[] {
  const charted = all.filter(
    (s) => s.selected.section.id === 'comparison' || s.selected.section.id === 'static',
  );
  return charted.flatMap(({ selected, results }) =>
    results.map((r) => ({
      title: r.workload.name,
      bars: selected.servers.map((spec) => {
        const ok = measurements(r.runs.get(spec.id) ?? []);
        return {
          label: spec.label,
          value: ok.length === 0 ? undefined : median(ok.map((m) => m.perSecond)),
          highlight: spec === selected.section.peregrine,
        };
      }),
    })),
  );
}

/** The whole report: a summary line, every section's intro and tables, and the targets table. */
function report(
  config: Config,
  all: readonly SectionResults[],
  uwsNote: string | undefined,
  pubSubNote?: string,
): string {
  const sections = all.map((section) => sectionReport(section, config, uwsNote, pubSubNote)).join('\n');
  const targets = targetsTable(checkTargets(targetFigures(all)));
  return `${summaryLine(config)}\n\n${sections}${targets === '' ? '' : `\n${targets}\n`}`;
}

/** Prints the report to stdout, and writes it to RESULTS.md and the chart to results.svg. */
export function writeReport(
  config: Config,
  all: readonly SectionResults[],
  uwsNote: string | undefined,
  /** Why the pubsub section's Redis rows were not run, if they were selected and could not be. */
  pubSubNote?: string,
): void {
  const markdown = report(config, all, uwsNote, pubSubNote);
  process.stdout.write(`\n${markdown}`);
  const these = all.length === 1 ? 'this table' : 'these tables';
  writeFileSync(
    RESULTS_FILE,
    `# Benchmark results\n\n${markdown}\nSee [README.md](README.md) for how to read ${these}.\n`,
  );
  progress(`\nbench: results written to ${RESULTS_FILE}`);
  const groups = chartGroups(all);
  if (groups.length > 0) {
    const heading =
      `Requests/s on one server core (median of ${plural(config.runs, 'run')}, ` +
      `${new Date().toISOString().slice(0, 10)})`;
    writeFileSync(CHART_FILE, renderChart(heading, groups, 'req/s'));
    progress(`bench: chart written to ${CHART_FILE}`);
  }
}

/** One run's progress line: its rate and CPU figures, its memory per idle connection, or why it failed. */
export function describeRun(result: RunResult, section: Section): string {
  if (!result.ok) return `FAILED: ${result.error}`;
  if (result.idleRss !== undefined) {
    const { before, after } = result.idleRss;
    return `${formatMiB(before)} → ${formatMiB(after)} MiB, ${(idleBytes(result) / 1000).toFixed(1)} KB per idle connection`;
  }
  const unit = section.unit;
  const rate = `${formatInteger(result.perSecond)} ${unit}/s`;
  const cpu = `${formatMicros(result.cpuMicrosPerUnit)} µs CPU/${unit}`;
  const server = `server CPU ${Math.round(result.cpuShare * 100)}%`;
  const load = `${loadName(section)} CPU ${Math.round(result.loadCpuShare * 100)}%`;
  return `${rate}, ${cpu}, ${server}, ${load}`;
}
