import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Certificates for the TLS tests, made with the openssl command line in a temporary directory: a
 * test CA, and leaf certificates it signs for the names a test needs (P-256 keys: quick to make).
 */
export interface Leaf {
  cert: string;
  key: string;
}

export class TestCa {
  readonly dir: string;
  readonly cert: string;
  private readonly key: string;
  private serial = 1;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'peregrine-tls-'));
    this.key = join(this.dir, 'ca.key');
    const certPath = join(this.dir, 'ca.pem');
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', this.key);
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      this.key,
      '-days',
      '2',
      '-subj',
      '/CN=Peregrine test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
      '-out',
      certPath,
    );
    this.cert = readFileSync(certPath, 'utf8');
  }

  /** A leaf certificate for `names` (DNS names, or IP addresses), with CN the first name. */
  issue(names: string[], cn = names[0]!): Leaf {
    const id = `leaf-${this.serial++}`;
    const key = join(this.dir, `${id}.key`);
    const csr = join(this.dir, `${id}.csr`);
    const cert = join(this.dir, `${id}.pem`);
    const ext = join(this.dir, `${id}.ext`);
    const alt = names.map((n) => (/^[0-9.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    writeFileSync(ext, `subjectAltName=${alt}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key);
    openssl('req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr);
    openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      join(this.dir, 'ca.pem'),
      '-CAkey',
      this.key,
      '-set_serial',
      String(this.serial + 1000),
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      cert,
    );
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  }

  /** Writes a leaf's files at `base`.pem and `base`.key, replacing them as tools do: a rename over the old. */
  install(leaf: Leaf, base: string): { cert: string; key: string } {
    const paths = { cert: `${base}.pem`, key: `${base}.key` };
    writeFileSync(`${paths.cert}.new`, leaf.cert);
    writeFileSync(`${paths.key}.new`, leaf.key);
    renameSync(`${paths.cert}.new`, paths.cert);
    renameSync(`${paths.key}.new`, paths.key);
    return paths;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
