// `weft cert`: join tokens, operator-issued workload certificates, certificate inspection and root
// rotation over a mesh CA directory (issue 5 "Certificate authority").
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createWorkloadCsr,
  inspectCertificates,
  MeshCa,
  MIN_CERTIFICATE_TTL_MS,
  parseDurationMs,
  rotateCaRoot,
  spiffeIdFor,
} from '@weft/control-plane';
import { ConfigError, systemClock } from '@weft/xds-client';
import type { CliIo, ExitCode } from '../cli-io.js';

export const CERT_HELP = `Usage: weft cert SUBCOMMAND [options]

Mesh CA operations on a CA directory (--ca-dir DIR, env WEFT_CA_DIR, default ~/.weft/ca; a root
is generated there on first use). The control plane serving workloads must use the same directory.

  token --ns NS --sa SA [--ttl 1h]
        print a join token for one service account; a workload presents it with its CSR and
        gets a certificate for spiffe://TRUST_DOMAIN/ns/NS/sa/SA only
  issue --ns NS --sa SA [--ttl 24h] [--out DIR]
        generate a key locally and sign a certificate for it (operator side, e.g. for gRPC's
        file-watcher certificate provider). --out writes key.pem (0600), cert-chain.pem and
        root-cert.pem (the trust bundle); without it the PEMs go to stdout
  inspect FILE|- [--bundle FILE] [-o json]
        show a PEM chain: subject, SPIFFE SAN, issuer, not before/after, time to expiry; with
        --bundle, verify it against those roots (exit 1 if it does not verify)
  inspect --workload NS/SA|SPIFFE_ID [--admin URL] [-o json]
        the same for the latest certificate the control plane's CA issued to that workload
        (read from the admin API, env WEFT_ADMIN, default http://127.0.0.1:15014); exit 1 if
        it has issued none
  rotate-root
        generate a new root; the old one moves to trusted-roots/ and stays in the trust bundle
        until its file is deleted. Restart control planes (or call reloadCa()) to
        pick it up

Common options:
  --ca-dir DIR          CA directory (env WEFT_CA_DIR, default ~/.weft/ca)
  --trust-domain TD     SPIFFE trust domain (default cluster.local; use MeshConfig's)
`;

const COMMON_OPTIONS = {
  'ca-dir': { type: 'string' },
  'trust-domain': { type: 'string' },
} as const;

/** The CA directory a command uses: --ca-dir, WEFT_CA_DIR, then ~/.weft/ca. */
export function defaultCaDir(io: CliIo, flag: string | undefined): string {
  return resolve(flag ?? io.env['WEFT_CA_DIR'] ?? join(io.env['HOME'] ?? homedir(), '.weft', 'ca'));
}

class UsageError extends Error {}

function required(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function ttl(name: string, value: string | undefined, fallbackMs: number, minMs: number): number {
  if (value === undefined) return fallbackMs;
  const ms = parseDurationMs(value);
  if (ms === null || ms < minMs)
    throw new UsageError(
      `--${name}: expected a duration of at least ${minMs / 1000}s (e.g. 1h, 30m), got ${JSON.stringify(value)}`,
    );
  return ms;
}

function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(seconds);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return (
    sign + [d > 0 ? `${d}d` : '', h > 0 ? `${h}h` : '', m > 0 ? `${m}m` : '', `${s}s`].join('')
  );
}

async function readInput(io: CliIo, file: string): Promise<string> {
  if (file !== '-') return readFileSync(file, 'utf8');
  if (io.stdin === undefined) throw new UsageError('reading "-" needs standard input');
  let text = '';
  for await (const chunk of io.stdin)
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  return text;
}

/** Runs `weft cert ARGS`. */
export async function runCert(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = args;
  if (
    sub === undefined ||
    sub === '--help' ||
    sub === '-h' ||
    rest.includes('--help') ||
    rest.includes('-h')
  ) {
    io.stdout.write(CERT_HELP);
    return sub === undefined ? 2 : 0;
  }
  try {
    switch (sub) {
      case 'token': {
        const { values } = parseArgs({
          args: [...rest],
          options: {
            ...COMMON_OPTIONS,
            ns: { type: 'string' },
            sa: { type: 'string' },
            ttl: { type: 'string' },
          },
          strict: true,
        });
        const namespace = required('ns', values.ns);
        const serviceAccount = required('sa', values.sa);
        const ttlMs = ttl('ttl', values.ttl, 3_600_000, 1000);
        const ca = openCa(io, values['ca-dir'], values['trust-domain']);
        const { token, claims } = ca.createJoinToken({ namespace, serviceAccount, ttlMs });
        io.stdout.write(token + '\n');
        io.stderr.write(
          `token ${claims.id} for ${spiffeIdFor(ca.trustDomain, namespace, serviceAccount)}, expires ${new Date(claims.expiresAtMs).toISOString()}\n`,
        );
        return 0;
      }
      case 'issue': {
        const { values } = parseArgs({
          args: [...rest],
          options: {
            ...COMMON_OPTIONS,
            ns: { type: 'string' },
            sa: { type: 'string' },
            ttl: { type: 'string' },
            out: { type: 'string' },
          },
          strict: true,
        });
        const namespace = required('ns', values.ns);
        const serviceAccount = required('sa', values.sa);
        const ttlMs = ttl('ttl', values.ttl, 24 * 3_600_000, MIN_CERTIFICATE_TTL_MS);
        const ca = openCa(io, values['ca-dir'], values['trust-domain']);
        const spiffeId = spiffeIdFor(ca.trustDomain, namespace, serviceAccount);
        const { privateKeyPem, csrPem } = createWorkloadCsr(spiffeId);
        const result = ca.signForIdentity({ csrPem, namespace, serviceAccount, ttlMs });
        if (!result.ok) {
          io.stderr.write(`weft cert issue: ${result.reason}: ${result.message}\n`);
          return 1;
        }
        const chain = result.certChainPem.join('');
        const bundle = result.trustBundlePem.join('');
        if (values.out === undefined) {
          io.stdout.write(chain + bundle + privateKeyPem);
        } else {
          const out = resolve(values.out);
          mkdirSync(out, { recursive: true });
          writeFileSync(join(out, 'key.pem'), privateKeyPem, { mode: 0o600 });
          chmodSync(join(out, 'key.pem'), 0o600);
          writeFileSync(join(out, 'cert-chain.pem'), chain);
          writeFileSync(join(out, 'root-cert.pem'), bundle);
          io.stdout.write(
            `wrote ${join(out, 'key.pem')}, ${join(out, 'cert-chain.pem')}, ${join(out, 'root-cert.pem')}\n`,
          );
        }
        io.stderr.write(
          `issued ${result.spiffeId} serial ${result.serialNumber}, expires ${new Date(result.notAfterMs).toISOString()}\n`,
        );
        return 0;
      }
      case 'inspect': {
        const { values, positionals } = parseArgs({
          args: [...rest],
          options: {
            bundle: { type: 'string' },
            output: { type: 'string', short: 'o' },
            workload: { type: 'string' },
            admin: { type: 'string' },
          },
          strict: true,
          allowPositionals: true,
        });
        if (values.output !== undefined && values.output !== 'json')
          throw new UsageError(`-o: expected json, got ${JSON.stringify(values.output)}`);
        let file: string;
        let text: string;
        if (values.workload !== undefined) {
          if (positionals.length > 0)
            throw new UsageError('give either FILE or --workload, not both');
          const issued = await fetchWorkloadChain(io, values.workload, values.admin);
          if (typeof issued === 'string') {
            io.stderr.write(`weft cert inspect: ${issued}\n`);
            return 1;
          }
          file = issued.spiffeId;
          text = issued.certChainPem.join('');
          if (values.output !== 'json')
            io.stdout.write(
              `${issued.spiffeId}: latest of ${issued.issuedCount} certificate(s) issued by the mesh CA, at ${new Date(issued.issuedAtMs).toISOString()}\n\n`,
            );
        } else {
          const only = positionals[0];
          if (only === undefined || positionals.length > 1)
            throw new UsageError('expected exactly one FILE (or - for standard input)');
          file = only;
          text = await readInput(io, file);
        }
        const bundle =
          values.bundle === undefined ? undefined : readFileSync(values.bundle, 'utf8');
        let inspection;
        try {
          inspection = inspectCertificates(text, systemClock.now(), bundle);
        } catch (err) {
          io.stderr.write(`weft cert inspect: ${file}: ${(err as Error).message}\n`);
          return 1;
        }
        if (values.output === 'json') {
          io.stdout.write(JSON.stringify(inspection, null, 2) + '\n');
        } else {
          for (const [i, c] of inspection.chain.entries()) {
            io.stdout.write(
              [
                `[${i}] ${i === 0 ? 'leaf' : c.isCa ? 'CA' : 'certificate'}`,
                `    subject:     ${c.subject === '' ? '(empty)' : c.subject}`,
                ...c.uris.map((u) => `    SAN:         ${u}`),
                `    issuer:      ${c.issuer}`,
                `    serial:      ${c.serialNumber}`,
                `    not before:  ${c.notBefore}`,
                `    not after:   ${c.notAfter} (${c.expiresInSeconds > 0 ? `expires in ${formatDuration(c.expiresInSeconds)}` : `EXPIRED ${formatDuration(-c.expiresInSeconds)} ago`})`,
                '',
              ].join('\n'),
            );
          }
          if (inspection.verification !== undefined)
            io.stdout.write(
              inspection.verification.ok
                ? `verified against ${values.bundle ?? ''}\n`
                : `NOT verified against ${values.bundle ?? ''}:\n${inspection.verification.problems.map((p) => `  ${p}\n`).join('')}`,
            );
        }
        return inspection.verification?.ok === false ? 1 : 0;
      }
      case 'rotate-root': {
        const { values } = parseArgs({ args: [...rest], options: COMMON_OPTIONS, strict: true });
        const dir = defaultCaDir(io, values['ca-dir']);
        const rotated = rotateCaRoot(
          dir,
          values['trust-domain'] ?? 'cluster.local',
          systemClock.now(),
        );
        io.stdout.write(
          [
            `new root:      ${rotated.current.subject.replace(/\n/g, ', ')} (expires ${rotated.current.validToDate.toISOString()})`,
            `previous root: ${rotated.previous.subject.replace(/\n/g, ', ')} kept trusted as ${rotated.keptAs}`,
            'Restart control planes to sign with the new root; delete the kept file to retire the old one',
            'once no certificate it signed is in use.',
            '',
          ].join('\n'),
        );
        return 0;
      }
      default:
        io.stderr.write(`weft cert: unknown subcommand ${JSON.stringify(sub)}\n\n${CERT_HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof RangeError) {
      io.stderr.write(`weft cert ${sub}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`weft cert ${sub}: CA directory is not usable:\n`);
      for (const issue of err.issues) io.stderr.write(`  ${issue.path}: ${issue.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** What `/ca?workload=` answers (the control plane's WorkloadCertificateRecord). */
interface IssuedChain {
  readonly spiffeId: string;
  readonly certChainPem: readonly string[];
  readonly issuedAtMs: number;
  readonly issuedCount: number;
}

/**
 * The latest chain the CA issued to `workload` (`NS/SA`, expanded with the CA's trust domain, or a
 * SPIFFE id), or a message saying why there is none.
 */
async function fetchWorkloadChain(
  io: CliIo,
  workload: string,
  adminFlag: string | undefined,
): Promise<IssuedChain | string> {
  const admin = (adminFlag ?? io.env['WEFT_ADMIN'] ?? 'http://127.0.0.1:15014').replace(/\/+$/, '');
  let spiffeId = workload;
  try {
    if (!workload.startsWith('spiffe://')) {
      const [ns = '', sa = '', ...extra] = workload.split('/');
      if (extra.length > 0 || ns === '' || sa === '')
        throw new UsageError(
          `--workload: expected NS/SA or spiffe://…, got ${JSON.stringify(workload)}`,
        );
      const res = await fetch(`${admin}/ca`);
      if (!res.ok) return `${admin}/ca answered ${res.status} (is the control plane's CA on?)`;
      const { trustDomain } = (await res.json()) as { trustDomain: string };
      spiffeId = spiffeIdFor(trustDomain, ns, sa);
    }
    const res = await fetch(`${admin}/ca?workload=${encodeURIComponent(spiffeId)}`);
    const body = (await res.json()) as IssuedChain & { error?: string };
    if (!res.ok) return body.error ?? `${admin}/ca answered ${res.status}`;
    return body;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return `cannot read ${admin}/ca: ${(err as Error).message}`;
  }
}

function openCa(io: CliIo, caDir: string | undefined, trustDomain: string | undefined): MeshCa {
  return MeshCa.open({ dir: defaultCaDir(io, caDir), trustDomain: trustDomain ?? 'cluster.local' });
}
