// Decodes a Cluster's transport_socket holding an UpstreamTlsContext: which SDS secrets (or gRPC
// certificate-provider instances) supply the client certificate and the trust roots.
// Spec: envoy/extensions/transport_sockets/tls/v3/tls.proto, common.proto; gRFC A29 (xDS mTLS).
import type { IssueCollector, ProtoObject } from './decode-helpers.js';
import {
  anyField,
  checkAdsConfigSource,
  join,
  message,
  messages,
  oneof,
  str,
  tryDecodeAny,
} from './decode-helpers.js';
import type { StringMatchUpdate } from './string-matcher.js';
import { decodeStringMatcher } from './string-matcher.js';
import type { DecodeContext } from './xds-resource-type.js';

/** envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext. */
export const UPSTREAM_TLS_CONTEXT_TYPE_URL =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext' as const;

/** A gRPC-style certificate provider reference (bootstrap `certificate_providers` key). */
export interface CertificateProviderInstanceUpdate {
  readonly instanceName: string;
  readonly certificateName: string;
}

/**
 * What a cluster's mTLS needs. Secret names refer to SDS Secrets fetched on the same ADS stream;
 * provider instances refer to the bootstrap's certificate providers (gRPC clients).
 */
export interface UpstreamTlsUpdate {
  readonly sni: string;
  /** SDS names of the client certificate (`tls_certificate_sds_secret_configs[].name`). */
  readonly certificateSecretNames: readonly string[];
  readonly certificateProviderInstance: CertificateProviderInstanceUpdate | undefined;
  /** SDS name of the trust roots, directly or inside `combined_validation_context`. */
  readonly validationSecretName: string | undefined;
  readonly validationProviderInstance: CertificateProviderInstanceUpdate | undefined;
  /** From the (default) validation context; empty = any SAN is accepted. */
  readonly matchSubjectAltNames: readonly StringMatchUpdate[];
  readonly alpnProtocols: readonly string[];
}

function sdsName(m: ProtoObject, path: string, issues: IssueCollector): string {
  const name = str(m, 'name');
  if (name === '') issues.add(join(path, 'name'), 'required');
  const source = message(m, 'sds_config');
  // An SdsSecretConfig without sds_config is a static secret reference, which clients cannot resolve.
  checkAdsConfigSource(source, join(path, 'sds_config'), issues);
  return name;
}

function providerInstance(
  m: ProtoObject | undefined,
): CertificateProviderInstanceUpdate | undefined {
  if (m === undefined) return undefined;
  return { instanceName: str(m, 'instance_name'), certificateName: str(m, 'certificate_name') };
}

function sanMatchers(
  vc: ProtoObject | undefined,
  path: string,
  issues: IssueCollector,
): StringMatchUpdate[] {
  if (vc === undefined) return [];
  const untyped = messages(vc, 'match_subject_alt_names').flatMap((m, i) => {
    const d = decodeStringMatcher(m, `${join(path, 'match_subject_alt_names')}[${i}]`, issues);
    return d === undefined ? [] : [d];
  });
  // Istio sends typed matchers (SubjectAltNameMatcher); Weft verifies URI SANs (SPIFFE IDs) only.
  const typed = messages(vc, 'match_typed_subject_alt_names').flatMap((m, i) => {
    const p = `${join(path, 'match_typed_subject_alt_names')}[${i}]`;
    const sanType = str(m, 'san_type');
    if (sanType !== 'URI') {
      issues.add(join(p, 'san_type'), `only URI is supported, got ${sanType || 'nothing'}`);
      return [];
    }
    const matcher = message(m, 'matcher');
    if (matcher === undefined) {
      issues.add(join(p, 'matcher'), 'required');
      return [];
    }
    const d = decodeStringMatcher(matcher, join(p, 'matcher'), issues);
    return d === undefined ? [] : [d];
  });
  return [...untyped, ...typed];
}

/** Decodes a Cluster `transport_socket` at `path`; only UpstreamTlsContext is supported. */
export function decodeUpstreamTls(
  socket: ProtoObject,
  path: string,
  issues: IssueCollector,
  ctx: DecodeContext,
): UpstreamTlsUpdate | undefined {
  const any = anyField(socket, 'typed_config');
  const tp = join(path, 'typed_config');
  if (any?.type_url !== UPSTREAM_TLS_CONTEXT_TYPE_URL) {
    issues.add(tp, `expected ${UPSTREAM_TLS_CONTEXT_TYPE_URL}, got ${any?.type_url ?? 'nothing'}`);
    return undefined;
  }
  const utc = tryDecodeAny(any, ctx);
  if (utc === undefined) {
    issues.add(tp, 'malformed UpstreamTlsContext');
    return undefined;
  }
  const common = message(utc, 'common_tls_context') ?? {};
  const cp = join(tp, 'common_tls_context');
  if (messages(common, 'tls_certificates').length > 0) {
    issues.add(join(cp, 'tls_certificates'), 'inline certificates are not supported; use SDS');
  }
  const certificateSecretNames = messages(common, 'tls_certificate_sds_secret_configs').map(
    (s, i) => sdsName(s, `${join(cp, 'tls_certificate_sds_secret_configs')}[${i}]`, issues),
  );
  let validationSecretName: string | undefined;
  let validationProviderInstance: CertificateProviderInstanceUpdate | undefined;
  let matchSubjectAltNames: StringMatchUpdate[] = [];
  const which = oneof(common, 'validation_context_type');
  switch (which) {
    case 'validation_context_sds_secret_config':
      validationSecretName = sdsName(message(common, which) ?? {}, join(cp, which), issues);
      break;
    case 'combined_validation_context': {
      const combined = message(common, which) ?? {};
      const ccp = join(cp, which);
      const sds = message(combined, 'validation_context_sds_secret_config');
      if (sds !== undefined) {
        validationSecretName = sdsName(
          sds,
          join(ccp, 'validation_context_sds_secret_config'),
          issues,
        );
      }
      validationProviderInstance = providerInstance(
        message(combined, 'validation_context_certificate_provider_instance'),
      );
      matchSubjectAltNames = sanMatchers(
        message(combined, 'default_validation_context'),
        join(ccp, 'default_validation_context'),
        issues,
      );
      break;
    }
    case 'validation_context': {
      const vc = message(common, which);
      if (vc !== undefined && message(vc, 'trusted_ca') !== undefined) {
        issues.add(
          join(join(cp, which), 'trusted_ca'),
          'inline trust roots are not supported; use SDS',
        );
      }
      validationProviderInstance = providerInstance(
        vc === undefined ? undefined : message(vc, 'ca_certificate_provider_instance'),
      );
      matchSubjectAltNames = sanMatchers(vc, join(cp, which), issues);
      break;
    }
    case 'validation_context_certificate_provider_instance':
      validationProviderInstance = providerInstance(message(common, which));
      break;
    case undefined:
      break;
    default:
      issues.add(join(cp, which), 'not supported');
  }
  const alpn = common['alpn_protocols'];
  return {
    sni: str(utc, 'sni'),
    certificateSecretNames,
    certificateProviderInstance: providerInstance(
      message(common, 'tls_certificate_provider_instance'),
    ),
    validationSecretName,
    validationProviderInstance,
    matchSubjectAltNames,
    alpnProtocols: Array.isArray(alpn) ? alpn.map(String) : [],
  };
}
