import { constants as cryptoConstants, X509Certificate } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';

/**
 * The server's certificates: loaded at start-up, chosen by SNI, and reloaded without a restart when
 * their files change or on request (SIGHUP). New handshakes use the new certificate, established
 * connections keep theirs, and a certificate that fails to load is logged while the old one stays:
 * never a server that can't handshake.
 */

/** One certificate as configured: PEM contents (a string or Buffer), or the paths of PEM files. */
export interface CertificateSource {
  /** The certificate chain: PEM, or the path of a PEM file. */
  cert: string | Buffer;
  /** Its private key: PEM, or the path of a PEM file. */
  key: string | Buffer;
  /** CA certificates to trust for client certificates (rarely needed): PEM, or a path. */
  ca?: string | Buffer;
  passphrase?: string;
  /**
   * The host name(s) this certificate answers for (`example.com`, `*.example.com`). Default: the DNS
   * names the certificate itself carries (its subjectAltName).
   */
  serverName?: string;
}

/** The TLS versions and ciphers offered: TLS 1.2 and 1.3, forward-secret AEAD ciphers only. */
export const TLS_DEFAULTS = {
  minVersion: 'TLSv1.2',
  // TLS 1.2 (TLS 1.3's suites are OpenSSL's defaults, all AEAD): ECDHE key exchange, AES-GCM or
  // ChaCha20-Poly1305. No CBC, no RSA key exchange, no SHA-1 MACs.
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
  // No renegotiation (TLS 1.2): a client could make the server repeat the costly handshake work at
  // will (a denial of service); TLS 1.3 has none.
  secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
} as const;

/** A certificate loaded, with the names it answers for. */
interface Loaded {
  readonly source: CertificateSource;
  readonly context: SecureContext;
  /** The options it was made from: also what `setSecureContext` takes for the default certificate. */
  readonly options: SecureContextOptions;
  /** Lower-case names; `*.example.com` for a wildcard. */
  readonly names: readonly string[];
}

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;

/** Whether a configured value is a file path (not PEM contents). */
function isPath(value: string | Buffer | undefined): value is string {
  return typeof value === 'string' && !PEM.test(value);
}

/** The paths among a source's values. */
function pathsOf(source: CertificateSource): string[] {
  return [source.cert, source.key, source.ca].filter(isPath).map((p) => resolve(p));
}

function describe(source: CertificateSource): string {
  return isPath(source.cert) ? source.cert : (source.serverName ?? 'the certificate given as PEM');
}

/** Reads a value (synchronously at start-up, where a missing file is a configuration error). */
function readSync(value: string | Buffer): string | Buffer {
  return isPath(value) ? readFileSync(value) : value;
}

async function readAsync(value: string | Buffer): Promise<string | Buffer> {
  return isPath(value) ? readFile(value) : value;
}

/** Builds a certificate's context; throws with OpenSSL's reason (a bad PEM, a key that doesn't match). */
function build(
  source: CertificateSource,
  cert: string | Buffer,
  key: string | Buffer,
  ca?: string | Buffer,
): Loaded {
  const options: SecureContextOptions = { ...TLS_DEFAULTS, cert, key };
  if (ca !== undefined) options.ca = ca;
  if (source.passphrase !== undefined) options.passphrase = source.passphrase;
  const context = createSecureContext(options);
  let names: string[];
  if (source.serverName !== undefined) {
    names = [source.serverName.toLowerCase()];
  } else {
    const x509 = new X509Certificate(cert);
    names = dnsNames(x509);
  }
  return { source, context, options, names };
}

/** The DNS names of a certificate's subjectAltName (or its CN when it has none). */
function dnsNames(x509: X509Certificate): string[] {
  const alt = x509.subjectAltName;
  if (alt !== undefined) {
    return alt
      .split(', ')
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn === null ? [] : [cn[1]!.toLowerCase()];
}

/** Whether `name` matches `pattern`: equal, or `*.rest` matching one label in front of `.rest` (RFC 6125 §6.4.3). */
function matches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot) === pattern.slice(1);
}

export class Certificates {
  private loaded: Loaded[];
  private readonly log: (message: string) => void;
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  /** Called after a reload with the new default certificate's options (for `setSecureContext`). */
  onDefaultChanged: ((options: SecureContextOptions) => void) | null = null;

  /**
   * Loads every certificate now. Throws an Error saying which one and why when one can't be read or
   * used (the caller turns it into a configuration error).
   */
  constructor(sources: readonly CertificateSource[], log: (message: string) => void) {
    if (sources.length === 0) throw new Error('tls needs at least one certificate');
    this.log = log;
    this.loaded = sources.map((source) => {
      try {
        const cert = readSync(source.cert);
        const key = readSync(source.key);
        const ca = source.ca === undefined ? undefined : readSync(source.ca);
        return build(source, cert, key, ca);
      } catch (error) {
        throw new Error(`cannot use the TLS certificate ${describe(source)}: ${reason(error)}`);
      }
    });
  }

  /** The certificate for clients that send no server name, or one no certificate answers for: the first. */
  get defaultOptions(): SecureContextOptions {
    return this.loaded[0]!.options;
  }

  /** The context for a server name (SNI), or the default certificate's. */
  contextFor(serverName: string): SecureContext {
    const name = serverName.toLowerCase();
    const loaded = this.loaded;
    for (const entry of loaded) if (entry.names.includes(name)) return entry.context;
    for (const entry of loaded)
      for (const pattern of entry.names) if (matches(pattern, name)) return entry.context;
    return loaded[0]!.context;
  }

  /** How many certificates there are: with one, the server name doesn't matter. */
  get count(): number {
    return this.loaded.length;
  }

  /** For `tls.createServer`'s SNICallback. */
  readonly sniCallback = (
    serverName: string,
    callback: (error: Error | null, context?: SecureContext) => void,
  ) => callback(null, this.contextFor(serverName));

  /** Whether any certificate comes from files (which can be reloaded). */
  get fromFiles(): boolean {
    return this.loaded.some((entry) => pathsOf(entry.source).length > 0);
  }

  /**
   * Reads the certificate files again. Each certificate that loads replaces its old one for new
   * handshakes; one that doesn't is logged and keeps the old one.
   */
  reload(): Promise<void> {
    this.reloading ??= this.reloadNow().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async reloadNow(): Promise<void> {
    const next: Loaded[] = [];
    for (const entry of this.loaded) {
      const source = entry.source;
      if (pathsOf(source).length === 0) {
        next.push(entry);
        continue;
      }
      try {
        const [cert, key, ca] = await Promise.all([
          readAsync(source.cert),
          readAsync(source.key),
          source.ca === undefined ? undefined : readAsync(source.ca),
        ]);
        next.push(build(source, cert, key, ca));
      } catch (error) {
        this.log(
          `peregrine: the TLS certificate ${describe(source)} could not be reloaded, the old one stays in use: ${reason(error)}`,
        );
        next.push(entry);
      }
    }
    const defaultChanged = next[0] !== this.loaded[0];
    this.loaded = next;
    if (defaultChanged) this.onDefaultChanged?.(next[0]!.options);
  }

  /**
   * Reloads when a certificate file changes. Directories are watched rather than files, because
   * tools replace certificates by renaming a new file over the old one. Changes are gathered for a
   * moment, so a certificate and its key written one after the other are loaded together.
   */
  watch(settleMs = 200): void {
    if (this.watchers.length > 0) return;
    const byDirectory = new Map<string, Set<string>>();
    for (const entry of this.loaded) {
      for (const path of pathsOf(entry.source)) {
        const names = byDirectory.get(dirname(path)) ?? new Set<string>();
        names.add(basename(path));
        byDirectory.set(dirname(path), names);
      }
    }
    for (const [directory, names] of byDirectory) {
      try {
        const watcher = watch(directory, { persistent: false }, (_event, file) => {
          if (file !== null && !names.has(String(file))) return;
          if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => {
            this.reloadTimer = null;
            void this.reload();
          }, settleMs);
          this.reloadTimer.unref();
        });
        watcher.on('error', (error) =>
          this.log(`peregrine: cannot watch ${directory} for new certificates: ${reason(error)}`),
        );
        this.watchers.push(watcher);
      } catch (error) {
        this.log(`peregrine: cannot watch ${directory} for new certificates: ${reason(error)}`);
      }
    }
  }

  /** Stops watching. */
  close(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
