/**
 * uWebSockets.js: the npm builds for Node 24 need a newer glibc than Debian 12 has, while this unofficial
 * build's binaries run on Node 20. It is installed on first use into bench/.tmp (not a devDependency:
 * it is over 100 MB) and run with a Node 20 found on the machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, progress } from './log.ts';
import { commandOutput } from './machine.ts';

const UWS_PACKAGE = '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';
const UWS_DIR = join(import.meta.dirname, '.tmp', 'uws');
/** The installed package, passed to servers/uws.mjs as $UWS_MODULE. */
export const UWS_MODULE = join(UWS_DIR, 'node_modules', '@trufflesuite', 'uws-js-unofficial');
const NODE_20_CANDIDATES = ['/usr/bin/node', '/usr/local/bin/node', '/usr/bin/nodejs'];

/** Whether uWebSockets.js can run: the Node 20 to run it with, or why it can't. */
export type UwsSetup = { readonly node: string } | { readonly note: string };

/** Finds a Node 20 and installs the uWebSockets.js package if needed. */
export function prepareUws(): UwsSetup {
  const node = NODE_20_CANDIDATES.find((candidate) =>
    /^v20\./.test(commandOutput(candidate, ['--version']) ?? ''),
  );
  if (node === undefined) {
    return {
      note:
        'uWebSockets.js not run: its build for this Debian needs Node 20 (Debian 12 has it: apt-get install ' +
        'nodejs) and none was found',
    };
  }
  if (!existsSync(join(UWS_MODULE, 'package.json'))) {
    progress(`bench: installing ${UWS_PACKAGE} into ${UWS_DIR} (once)`);
    try {
      mkdirSync(UWS_DIR, { recursive: true });
      const args = [
        'install',
        '--prefix',
        UWS_DIR,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
      ];
      execFileSync('npm', [...args, UWS_PACKAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (error) {
      return { note: `uWebSockets.js not run: npm install ${UWS_PACKAGE} failed (${errorMessage(error)})` };
    }
  }
  return { node };
}
