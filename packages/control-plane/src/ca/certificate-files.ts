// Certificate files for workloads that read their identity from disk — gRPC's file-watcher
// certificate provider (gRFC A29 bootstrap `certificate_providers`): the control plane signs for a
// configured identity and keeps key.pem, cert-chain.pem and root-cert.pem fresh in a directory,
// renewing at half the lifetime. Files are swapped the way Kubernetes swaps secret volumes: each
// issuance goes to a new `..TIMESTAMP` directory and the `..data` symlink is renamed over, so a
// reader never sees a key from one issuance with a certificate from another.
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Clock, Logger, TimerHandle } from '@weft/xds-client';
import type { MeshCa } from './mesh-ca.js';
import { createWorkloadCsr } from '@weft/xds-client';

/** File names in a certificate directory (Istio's names for proxyless gRPC). */
export const CERTIFICATE_FILE_NAMES = Object.freeze({
  key: 'key.pem',
  chain: 'cert-chain.pem',
  roots: 'root-cert.pem',
});

/** One identity whose certificate files the control plane keeps. */
export interface CertificateFilesTarget {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly dir: string;
  /** Certificate TTL; default: the CA's. */
  readonly ttlMs?: number;
}

/** What `/ca` shows per target. */
export interface CertificateFilesStatus {
  readonly spiffeId: string;
  readonly dir: string;
  readonly serialNumber: string | null;
  readonly notAfter: string | null;
  readonly writes: number;
  readonly failures: number;
  readonly lastError: string | null;
}

/** After a failed issuance or write, the next try waits this long. */
export const CERTIFICATE_FILES_RETRY_MS = 5_000;

interface TargetState {
  readonly target: CertificateFilesTarget;
  readonly dir: string;
  serialNumber: string | null;
  notAfterMs: number | null;
  writes: number;
  failures: number;
  lastError: string | null;
  timer: TimerHandle | null;
}

/** Keeps certificate files of {@link CertificateFilesTarget}s current until {@link close}. */
export class CertificateFileWriter {
  readonly #ca: MeshCa;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #states: TargetState[];
  #closed = false;

  constructor(options: {
    readonly ca: MeshCa;
    readonly targets: readonly CertificateFilesTarget[];
    readonly clock: Clock;
    readonly logger: Logger;
  }) {
    this.#ca = options.ca;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#states = options.targets.map((target) => ({
      target,
      dir: resolve(target.dir),
      serialNumber: null,
      notAfterMs: null,
      writes: 0,
      failures: 0,
      lastError: null,
      timer: null,
    }));
  }

  /**
   * Issues and writes every target now (first config, trust domain change, CA reload). Failures
   * are logged, shown in {@link status} and retried; returns their messages.
   */
  refreshAll(): string[] {
    return this.#states.flatMap((state) => this.#write(state) ?? []);
  }

  status(): CertificateFilesStatus[] {
    return this.#states.map((s) => ({
      spiffeId: this.#spiffeId(s.target),
      dir: s.dir,
      serialNumber: s.serialNumber,
      notAfter: s.notAfterMs === null ? null : new Date(s.notAfterMs).toISOString(),
      writes: s.writes,
      failures: s.failures,
      lastError: s.lastError,
    }));
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#states) this.#cancel(state);
  }

  #spiffeId(target: CertificateFilesTarget): string {
    return `spiffe://${this.#ca.trustDomain}/ns/${target.namespace}/sa/${target.serviceAccount}`;
  }

  #cancel(state: TargetState): void {
    if (state.timer !== null) this.#clock.clearTimeout(state.timer);
    state.timer = null;
  }

  #schedule(state: TargetState, delayMs: number): void {
    this.#cancel(state);
    if (this.#closed) return;
    state.timer = this.#clock.setTimeout(
      () => {
        state.timer = null;
        this.#write(state);
      },
      Math.max(0, delayMs),
    );
  }

  /** Issues and writes one target; returns a problem message, or null when written. */
  #write(state: TargetState): string | null {
    const { target } = state;
    const spiffeId = this.#spiffeId(target);
    const now = this.#clock.now();
    const { privateKeyPem, csrPem } = createWorkloadCsr(spiffeId);
    const result = this.#ca.signForIdentity({
      csrPem,
      namespace: target.namespace,
      serviceAccount: target.serviceAccount,
      ...(target.ttlMs === undefined ? {} : { ttlMs: target.ttlMs }),
    });
    let problem: string | null = null;
    if (!result.ok) {
      problem = `certificate files for ${spiffeId} in ${state.dir}: ${result.reason}: ${result.message}`;
    } else {
      try {
        swapFiles(state.dir, now, {
          [CERTIFICATE_FILE_NAMES.key]: privateKeyPem,
          [CERTIFICATE_FILE_NAMES.chain]: result.certChainPem.join(''),
          [CERTIFICATE_FILE_NAMES.roots]: result.trustBundlePem.join(''),
        });
      } catch (err) {
        problem = `certificate files for ${spiffeId} in ${state.dir}: ${(err as Error).message}`;
      }
    }
    if (problem !== null || !result.ok) {
      state.failures += 1;
      state.lastError = problem;
      this.#logger.error('writing certificate files failed; retrying', {
        spiffeId,
        dir: state.dir,
        error: problem,
        retryInMs: CERTIFICATE_FILES_RETRY_MS,
      });
      this.#schedule(state, CERTIFICATE_FILES_RETRY_MS);
      return problem;
    }
    state.writes += 1;
    state.lastError = null;
    state.serialNumber = result.serialNumber;
    state.notAfterMs = result.notAfterMs;
    // Renew at half the lifetime left, as workloads do.
    const renewInMs = Math.floor((result.notAfterMs - now) / 2);
    this.#logger.info('certificate files written', {
      spiffeId,
      dir: state.dir,
      serialNumber: result.serialNumber,
      notAfter: new Date(result.notAfterMs).toISOString(),
      renewInMs,
    });
    this.#schedule(state, renewInMs);
    return null;
  }
}

/**
 * Writes `files` into `dir/..<stamp>/`, points `dir/..data` at it with one rename, makes sure
 * `dir/NAME` → `..data/NAME` symlinks exist, and removes version directories older than the
 * previous one (a reader that resolved `..data` just before the swap still finds its files).
 */
function swapFiles(dir: string, stamp: number, files: Readonly<Record<string, string>>): void {
  mkdirSync(dir, { recursive: true });
  const version = `..${stamp}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const versionDir = join(dir, version);
  mkdirSync(versionDir, { mode: 0o700 });
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(versionDir, name), content, {
      mode: name === CERTIFICATE_FILE_NAMES.key ? 0o600 : 0o644,
    });
  const tmpLink = join(dir, `..data_tmp-${process.pid}`);
  rmSync(tmpLink, { force: true });
  symlinkSync(version, tmpLink);
  renameSync(tmpLink, join(dir, '..data'));
  for (const name of Object.keys(files)) {
    const link = join(dir, name);
    const tmp = `${link}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    symlinkSync(join('..data', name), tmp);
    renameSync(tmp, link);
  }
  const versions = readdirSync(dir)
    .filter((e) => /^\.\.\d+-/.test(e))
    .sort((a, b) => Number(a.slice(2).split('-')[0]) - Number(b.slice(2).split('-')[0]));
  for (const old of versions.slice(0, -2)) rmSync(join(dir, old), { recursive: true, force: true });
}
