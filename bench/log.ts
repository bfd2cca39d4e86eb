// The runner's messages: progress and errors go to stderr, so that stdout holds only the result tables.

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Stops the benchmark before it starts, e.g. on a bad environment variable or a missing tool. */
export function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
