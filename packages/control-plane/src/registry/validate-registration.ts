// Validates a RegisterEndpoint message (proto-loader object, keepCase) into a RegisteredEndpoint,
// or names the first offending field. Wire format: xds-client protos/weft/registry/v1/registry.proto.
import { isIP } from 'node:net';
import type { RegisteredEndpoint, RegistrationProtocol } from './registered-endpoint.js';

/** A rejected registration: the field (proto name) and a message that starts with it. */
export interface RegistrationIssue {
  readonly field: string;
  readonly message: string;
}

/** The outcome of {@link validateRegistration}. */
export type RegistrationValidation =
  | { readonly ok: true; readonly endpoint: RegisteredEndpoint }
  | { readonly ok: false; readonly issue: RegistrationIssue };

/** RFC 1123 host: dot-separated labels of `[a-z0-9-]`, each 1-63 characters, 253 in all. */
const HOST_RE =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** RFC 1123 label (namespace, service account). */
const LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Kubernetes label key (optional DNS prefix `/` name) and value. */
const LABEL_KEY_RE =
  /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** Largest endpoint weight (keeps a locality's summed weight far inside uint32). */
export const MAX_REGISTRATION_WEIGHT = 65_535;
const MAX_ID_LENGTH = 256;

class Invalid extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

function str(raw: Record<string, unknown>, field: string): string {
  const v = raw[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Invalid(field, `expected a string, got ${typeof v}`);
  return v;
}

function uint(raw: Record<string, unknown>, field: string): number {
  const v = raw[field];
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new Invalid(field, `expected an unsigned integer, got ${JSON.stringify(v)}`);
  return n;
}

function protocolOf(v: unknown): RegistrationProtocol {
  if (
    v === undefined ||
    v === null ||
    v === 'PROTOCOL_UNSPECIFIED' ||
    v === 0 ||
    v === 'HTTP' ||
    v === 1
  )
    return 'HTTP';
  if (v === 'GRPC' || v === 2) return 'GRPC';
  throw new Invalid('protocol', `expected HTTP or GRPC, got ${JSON.stringify(v)}`);
}

function labelsOf(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object') throw new Invalid('labels', 'expected a map of strings');
  const out: Record<string, string> = {};
  for (const key of Object.keys(v).sort()) {
    const value = (v as Record<string, unknown>)[key];
    if (!LABEL_KEY_RE.test(key))
      throw new Invalid(`labels.${key}`, `not a valid label key (Kubernetes label syntax)`);
    if (typeof value !== 'string' || !LABEL_VALUE_RE.test(value))
      throw new Invalid(
        `labels.${key}`,
        `value ${JSON.stringify(value)} is not a valid label value (≤ 63 of [A-Za-z0-9_.-])`,
      );
    out[key] = value;
  }
  return out;
}

function localityPart(raw: Record<string, unknown>, field: string): string {
  const v = str(raw, field);
  if (v.includes('/') || v.length > 128)
    throw new Invalid(`locality.${field}`, `must not contain "/" and be at most 128 characters`);
  return v;
}

function validateOrThrow(raw: Record<string, unknown>): RegisteredEndpoint {
  const id = str(raw, 'id');
  if (id === '' || id.length > MAX_ID_LENGTH)
    throw new Invalid('id', `expected 1-${MAX_ID_LENGTH} characters`);
  const service = str(raw, 'service');
  if (!HOST_RE.test(service))
    throw new Invalid(
      'service',
      `expected a lowercase DNS name (e.g. "inventory"), got ${JSON.stringify(service)}`,
    );
  const namespace = str(raw, 'namespace') || 'default';
  if (!LABEL_RE.test(namespace))
    throw new Invalid('namespace', `expected a DNS label, got ${JSON.stringify(namespace)}`);
  const address = str(raw, 'address');
  const family = isIP(address);
  if (family === 0)
    throw new Invalid(
      'address',
      `expected an IP literal (v4 or v6) clients can dial, got ${JSON.stringify(address)}`,
    );
  if (address === '0.0.0.0' || /^[0:]+$/.test(address))
    throw new Invalid(
      'address',
      `${address} is the unspecified address: register the address clients should dial (e.g. 127.0.0.1)`,
    );
  const port = uint(raw, 'port');
  if (port < 1 || port > 65_535)
    throw new Invalid('port', `expected a port 1-65535 (the bound port, not 0), got ${port}`);
  const servicePort = uint(raw, 'service_port');
  if (servicePort > 65_535)
    throw new Invalid('service_port', `expected 0-65535, got ${servicePort}`);
  const protocol = protocolOf(raw['protocol']);
  const labels = labelsOf(raw['labels']);
  const loc = (raw['locality'] ?? {}) as Record<string, unknown>;
  if (typeof loc !== 'object') throw new Invalid('locality', 'expected a message');
  const locality = {
    region: localityPart(loc, 'region'),
    zone: localityPart(loc, 'zone'),
    subZone: localityPart(loc, 'sub_zone'),
  };
  const serviceAccount = str(raw, 'service_account') || 'default';
  if (!LABEL_RE.test(serviceAccount))
    throw new Invalid(
      'service_account',
      `expected a DNS label, got ${JSON.stringify(serviceAccount)}`,
    );
  const weight = uint(raw, 'weight') || 1;
  if (weight > MAX_REGISTRATION_WEIGHT)
    throw new Invalid('weight', `expected 0-${MAX_REGISTRATION_WEIGHT}, got ${weight}`);
  const nodeId = str(raw, 'node_id');
  return Object.freeze({
    id,
    service,
    namespace,
    address,
    port,
    protocol,
    servicePort,
    labels: Object.freeze(labels),
    locality: Object.freeze(locality),
    serviceAccount,
    weight,
    nodeId: nodeId.slice(0, MAX_ID_LENGTH),
  });
}

/**
 * Validates one `RegisterEndpoint`. Never throws: a bad message gives the first offending field
 * (its proto name, e.g. `address`, `labels.version`) and a message that starts with it.
 */
export function validateRegistration(raw: unknown): RegistrationValidation {
  if (typeof raw !== 'object' || raw === null)
    return { ok: false, issue: { field: '', message: 'register: expected a message' } };
  try {
    return { ok: true, endpoint: validateOrThrow(raw as Record<string, unknown>) };
  } catch (err) {
    if (err instanceof Invalid)
      return { ok: false, issue: { field: err.field, message: err.message } };
    throw err;
  }
}
