// bench/servers/peregrine.ts with `accessLog: true` written to /dev/null (the observe section), so the
// figure is the cost of making and writing the lines, not of a terminal or disk keeping up.
process.env.BENCH_ACCESS_LOG = '/dev/null';
await import('./peregrine.ts');
