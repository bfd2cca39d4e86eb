/**
 * Bun's own Bun.serve for the benchmark (run by the `bun` binary of the @oven/bun-linux-x64 dev
 * dependency): the same app as Peregrine's fetch mode (fetch-app.ts). Listens on 127.0.0.1:$PORT and
 * prints `listening`.
 */
import { fetchApp } from './fetch-app.ts';

declare const Bun: { serve(options: { port: number; hostname: string; fetch: typeof fetchApp }): unknown };

Bun.serve({ port: Number(process.env.PORT), hostname: '127.0.0.1', fetch: fetchApp });
process.on('SIGTERM', () => process.exit(0));
console.log('listening');
