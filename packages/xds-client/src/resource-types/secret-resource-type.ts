// SDS: decodes envoy.extensions.transport_sockets.tls.v3.Secret (a certificate with its key, or
// trust roots) and checks that the PEM parses. Spec: envoy/extensions/transport_sockets/tls/v3/
// secret.proto, common.proto; Envoy's SDS docs (https://www.envoyproxy.io/docs/envoy/latest/configuration/security/secret).
import type { KeyObject } from 'node:crypto';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { SECRET_TYPE_URL } from '../protos/type-urls.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import { certificateUris } from '../pki/x509-der.js';
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  decodeResource,
  deepEqual,
  deepFreeze,
  join,
  message,
  messages,
  oneof,
  str,
} from './decode-helpers.js';
import type { StringMatchUpdate } from './string-matcher.js';
import { decodeStringMatcher } from './string-matcher.js';
import type { DecodeContext, DecodeResult, XdsResourceType } from './xds-resource-type.js';

/** What Weft reads from one certificate. */
export interface CertificateInfoUpdate {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  /** Expiry as epoch milliseconds. */
  readonly notAfterMs: number;
  readonly notBeforeMs: number;
  /** URI subject-alt-names, e.g. SPIFFE IDs `spiffe://td/ns/NS/sa/SA`. */
  readonly uriSans: readonly string[];
  readonly fingerprint256: string;
}

/**
 * A certificate with its private key. `privateKey` is a KeyObject held in a NON-ENUMERABLE
 * property: JSON.stringify, util.inspect, spreading and config dumps never show key material
 * (a KeyObject itself also prints no key). Read it only to build a TLS context.
 */
export interface TlsCertificateSecretUpdate {
  readonly kind: 'tls_certificate';
  readonly name: string;
  /** The chain as received (PEM, leaf first). */
  readonly certificateChainPem: string;
  /** Parsed chain, leaf first. */
  readonly certificates: readonly CertificateInfoUpdate[];
  /** Non-enumerable; see the interface comment. */
  readonly privateKey: KeyObject;
}

/** Trust roots plus the subject-alt-names a peer must present. */
export interface ValidationContextSecretUpdate {
  readonly kind: 'validation_context';
  readonly name: string;
  readonly trustedCaPem: string;
  readonly trustedCas: readonly CertificateInfoUpdate[];
  /** Empty = any SAN is accepted. */
  readonly matchSubjectAltNames: readonly StringMatchUpdate[];
}

/** A decoded SDS Secret. Deep-frozen. */
export type SecretUpdate = TlsCertificateSecretUpdate | ValidationContextSecretUpdate;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** An inline DataSource as text; files and environment variables are not read by decoders. */
function inlineData(
  obj: ProtoObject,
  key: string,
  path: string,
  issues: IssueCollector,
): string | undefined {
  const ds = message(obj, key);
  const p = join(path, key);
  if (ds === undefined) {
    issues.add(p, 'required');
    return undefined;
  }
  const which = oneof(ds, 'specifier');
  if (which === 'inline_string') return str(ds, 'inline_string');
  if (which === 'inline_bytes') {
    const b = ds['inline_bytes'];
    return b instanceof Uint8Array ? Buffer.from(b).toString('utf8') : '';
  }
  issues.add(p, `only inline_bytes or inline_string are supported, got ${which ?? 'nothing'}`);
  return undefined;
}

/** Parses every PEM certificate in `pem`; an issue for none or any that fails to parse. */
function parseCertificates(
  pem: string,
  path: string,
  issues: IssueCollector,
): { infos: CertificateInfoUpdate[]; x509: X509Certificate[] } {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) issues.add(path, 'no PEM certificate found');
  const x509: X509Certificate[] = [];
  blocks.forEach((block, i) => {
    try {
      x509.push(new X509Certificate(block));
    } catch (err) {
      issues.add(path, `certificate ${i}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  const infos = x509.map((c) => ({
    subject: c.subject,
    issuer: c.issuer,
    serialNumber: c.serialNumber,
    notAfterMs: new Date(c.validTo).getTime(),
    notBeforeMs: new Date(c.validFrom).getTime(),
    uriSans: certificateUris(c),
    fingerprint256: c.fingerprint256,
  }));
  return { infos, x509 };
}

function decodeTlsCertificate(
  tc: ProtoObject,
  name: string,
  issues: IssueCollector,
): TlsCertificateSecretUpdate | undefined {
  const path = 'tls_certificate';
  const chain = inlineData(tc, 'certificate_chain', path, issues);
  const keyPem = inlineData(tc, 'private_key', path, issues);
  if (chain === undefined || keyPem === undefined) return undefined;
  const { infos, x509 } = parseCertificates(chain, join(path, 'certificate_chain'), issues);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    // Never echo the parser's message: it could quote key material.
    issues.add(join(path, 'private_key'), 'not a valid PEM private key');
    return undefined;
  }
  const leaf = x509[0];
  if (leaf !== undefined && !leaf.checkPrivateKey(privateKey)) {
    issues.add(join(path, 'private_key'), 'does not match the leaf certificate');
  }
  const update: TlsCertificateSecretUpdate = {
    kind: 'tls_certificate',
    name,
    certificateChainPem: chain,
    certificates: infos,
    privateKey,
  };
  // Hidden from enumeration so no dump or log line can carry the key.
  Object.defineProperty(update, 'privateKey', { enumerable: false });
  return update;
}

function decodeValidationContext(
  vc: ProtoObject,
  name: string,
  issues: IssueCollector,
): ValidationContextSecretUpdate | undefined {
  const path = 'validation_context';
  const pem = inlineData(vc, 'trusted_ca', path, issues);
  if (pem === undefined) return undefined;
  const { infos } = parseCertificates(pem, join(path, 'trusted_ca'), issues);
  const matchSubjectAltNames = messages(vc, 'match_subject_alt_names').flatMap((m, i) => {
    const d = decodeStringMatcher(m, `${join(path, 'match_subject_alt_names')}[${i}]`, issues);
    return d === undefined ? [] : [d];
  });
  return {
    kind: 'validation_context',
    name,
    trustedCaPem: pem,
    trustedCas: infos,
    matchSubjectAltNames,
  };
}

/** Deep-freezes the enumerable parts; the non-enumerable KeyObject is left as it is. */
function freezeSecret<T extends SecretUpdate>(s: T): T {
  return deepFreeze(s);
}

/** The SDS resource type. */
export class SecretResourceType implements XdsResourceType<SecretUpdate> {
  readonly typeUrl = SECRET_TYPE_URL;
  readonly shortName = 'sds';
  readonly allResourcesRequiredInSotW = false;

  /** Decodes and validates; never throws. Issues never quote private-key material. */
  decode(raw: AnyMessage, ctx: DecodeContext): DecodeResult<SecretUpdate> {
    return decodeResource(raw, ctx, this.typeUrl, 'name', (msg, name, issues): SecretUpdate => {
      const which = oneof(msg, 'type');
      let result: SecretUpdate | undefined;
      if (which === 'tls_certificate') {
        result = decodeTlsCertificate(message(msg, which) ?? {}, name, issues);
      } else if (which === 'validation_context') {
        result = decodeValidationContext(message(msg, which) ?? {}, name, issues);
      } else {
        issues.add(which ?? 'type', `unsupported secret type ${which ?? '(none)'}`);
      }
      return freezeSecret(
        result ??
          ({
            kind: 'validation_context',
            name,
            trustedCaPem: '',
            trustedCas: [],
            matchSubjectAltNames: [],
          } satisfies ValidationContextSecretUpdate),
      );
    });
  }

  /** Structural equality, private keys included (compared with KeyObject.equals). */
  isEqual(a: SecretUpdate, b: SecretUpdate): boolean {
    if (!deepEqual(a, b)) return false;
    if (a.kind === 'tls_certificate' && b.kind === 'tls_certificate') {
      return a.privateKey.equals(b.privateKey);
    }
    return true;
  }
}
