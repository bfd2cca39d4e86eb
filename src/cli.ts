#!/usr/bin/env node
// The `peregrine` command: serves a directory over HTTP with DirServer mounted at `/`.
//
// With more than one worker this program runs again in every worker (threads or cluster processes,
// with the same arguments): the arguments are parsed the same way there, and what must be said only
// once (errors, the start-up line) is said by the primary.
import { readFileSync, type Stats, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Request, Response } from './handler.ts';
import { isCacheControlValue } from './http/tokens.ts';
import { serve } from './server.ts';
import { isPrimary } from './shared.ts';
import { DirServer } from './static/dir-server.ts';

const USAGE = `Usage: peregrine [options] [dir]

Serves the files of a directory (default: the current directory) over HTTP.

Options:
  -p, --port N             port to listen on (default: $PORT, else 3000; 0 picks a free one)
      --host H             address to listen on (default: every address)
      --workers N          worker threads or processes (default 0: one per core)
      --cors               send Access-Control-Allow-Origin: * and answer OPTIONS preflights
      --listing            list directories that have no index.html
      --spa                single-page apps: a GET or HEAD for a path with no file gets
                           /index.html (200), dots or not (/users/jane.doe, /missing.js), unless
                           its Accept header rules HTML out (e.g. only application/json gets the
                           404); text/html, */* (curl, fetch, scripts) and no Accept all get it.
                           Existing files are always served as themselves.
      --cache-control V    the Cache-Control header of files (default "max-age=0": caches
                           revalidate each time, and get a 304 while the file is unchanged)
  -q, --quiet              no access log (by default one line per request on stdout:
                           time client method target status bytes duration)
  -h, --help               show this text
  -v, --version            show the version

A 404.html at the root of the directory, whenever it is there, is the body of every 404
(status 404, text/html).
Ctrl+C (SIGINT) or SIGTERM stops gracefully: requests in flight finish, the log is written out.
`;

interface CliOptions {
  dir: string;
  port: number;
  host: string | undefined;
  workers: number;
  cors: boolean;
  listing: boolean;
  spa: boolean;
  cacheControl: string | undefined;
  quiet: boolean;
  help: boolean;
  version: boolean;
}

/** A command-line argument the CLI doesn't accept (printed with the usage hint, never thrown on). */
class ArgumentError extends Error {}

function integerValue(flag: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ArgumentError(
      `${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

/** Parses the arguments after the script name. Throws an ArgumentError for anything it doesn't know. */
function parseArguments(args: string[], env: NodeJS.ProcessEnv): CliOptions {
  const options: CliOptions = {
    dir: '.',
    // PORT as platforms set it (Heroku, Cloud Run, Render…); a --port flag wins.
    port: env.PORT === undefined || env.PORT === '' ? 3000 : integerValue('PORT', env.PORT, 0, 65535),
    host: undefined,
    workers: 0,
    cors: false,
    listing: false,
    spa: false,
    cacheControl: undefined,
    quiet: false,
    help: false,
    version: false,
  };
  let dir: string | undefined;
  let onlyPositional = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (onlyPositional || !arg.startsWith('-') || arg === '-') {
      if (dir !== undefined)
        throw new ArgumentError(
          `only one directory can be served, got ${JSON.stringify(dir)} and ${JSON.stringify(arg)}`,
        );
      dir = arg;
      continue;
    }
    if (arg === '--') {
      onlyPositional = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = args[i + 1];
      if (next === undefined) throw new ArgumentError(`${flag} needs a value`);
      i++;
      return next;
    };
    const noValue = () => {
      if (inline !== undefined) throw new ArgumentError(`${flag} takes no value, got ${JSON.stringify(arg)}`);
    };
    switch (flag) {
      case '--port':
      case '-p':
        options.port = integerValue(flag, value(), 0, 65535);
        break;
      case '--host': {
        const host = value();
        if (host === '') throw new ArgumentError('--host must not be empty');
        options.host = host;
        break;
      }
      case '--workers':
        options.workers = integerValue(flag, value(), 0, 1024);
        break;
      case '--cache-control': {
        const cacheControl = value();
        if (!isCacheControlValue(cacheControl)) {
          throw new ArgumentError(
            `--cache-control must be a non-empty header value of visible ASCII characters, got ${JSON.stringify(cacheControl)}`,
          );
        }
        options.cacheControl = cacheControl;
        break;
      }
      case '--cors':
        noValue();
        options.cors = true;
        break;
      case '--listing':
        noValue();
        options.listing = true;
        break;
      case '--spa':
        noValue();
        options.spa = true;
        break;
      case '--log': // the default now; kept so that existing scripts still run
        noValue();
        options.quiet = false;
        break;
      case '--quiet':
      case '-q':
        noValue();
        options.quiet = true;
        break;
      case '--help':
      case '-h':
        noValue();
        options.help = true;
        break;
      case '--version':
      case '-v':
        noValue();
        options.version = true;
        break;
      default:
        throw new ArgumentError(`unknown option ${JSON.stringify(flag)}`);
    }
  }
  if (dir !== undefined) options.dir = dir;
  return options;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Says something once, from the primary, and exits (a worker exits quietly: the primary reports). */
function fail(message: string, code: number): never {
  // The library's errors already start with "peregrine: ".
  if (isPrimary()) console.error(message.startsWith('peregrine: ') ? message : `peregrine: ${message}`);
  process.exit(code);
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArguments(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    if (isPrimary()) console.error(`peregrine: ${error.message}\nRun 'peregrine --help' for the options.`);
    process.exit(2);
  }
  if (options.help) {
    if (isPrimary()) process.stdout.write(USAGE);
    return;
  }
  if (options.version) {
    if (isPrimary()) console.log(version());
    return;
  }

  const root = resolve(options.dir);
  let stats: Stats;
  try {
    stats = statSync(root);
  } catch {
    fail(`directory "${root}" does not exist`, 1);
  }
  if (!stats.isDirectory()) fail(`"${root}" is not a directory`, 1);

  let files: DirServer;
  try {
    files = new DirServer(root, {
      listing: options.listing,
      spaFallback: options.spa,
      // Always on: DirServer looks for the page at each 404 (one lstat), so a 404.html made or
      // removed while the server runs takes effect at once, like any other file.
      notFoundPage: '404.html',
      ...(options.cacheControl === undefined ? {} : { cacheControl: options.cacheControl }),
    });
  } catch (error) {
    fail((error as Error).message, 1);
  }

  const { cors } = options;
  const handler = {
    handleRequest(req: Request, res: Response): void | Promise<void> {
      if (cors) {
        res.setHeader('Access-Control-Allow-Origin', '*');
        if (req.method === 'OPTIONS') {
          res.status = 204;
          res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
          res.setHeader('Access-Control-Allow-Headers', req.header('access-control-request-headers') ?? '*');
          res.setHeader('Access-Control-Max-Age', '86400');
          res.setHeader('Allow', 'GET, HEAD, OPTIONS');
          res.end();
          return;
        }
      }
      return files.handleRequest(req, res);
    },
  };

  try {
    await serve(handler, {
      port: options.port,
      workers: options.workers,
      // Every worker logs its own responses: whole lines, in atomic writes, to the one stdout.
      accessLog: !options.quiet,
      ...(options.host === undefined ? {} : { host: options.host }),
    });
  } catch (error) {
    fail((error as Error).message, 1);
  }
  if (isPrimary()) console.log(`peregrine: serving ${root}`);
}

await main();
