// bench/servers/peregrine.ts with `metrics: true` (the observe section): the same routes, counted.
process.env.BENCH_METRICS = '1';
await import('./peregrine.ts');
