// The trust bundle as the SDS Secret `ROOTCA` (inline PEM of every trusted root) that Weft
// clients subscribe to, so a root rotation reaches them without a new certificate. Istio's name
// for the root secret; Envoy's SDS: https://www.envoyproxy.io/docs/envoy/latest/configuration/security/secret
import { SECRET_TYPE_URL, type AdsTypeUrl } from '@weft/xds-client';
import type { ClientView, XdsResourceSet } from '../contracts.js';
import { SDS_ROOT_CA_SECRET } from '../translate/build-cluster.js';

/** The `ROOTCA` Secret for `trustBundlePem` (validation context only: never a private key). */
export function buildRootCaSecret(trustBundlePem: readonly string[]): Record<string, unknown> {
  return {
    name: SDS_ROOT_CA_SECRET,
    validation_context: { trusted_ca: { inline_string: trustBundlePem.join('') } },
  };
}

/**
 * `resources` plus the `ROOTCA` Secret for Weft clients (gRPC's clients read roots from the
 * file-watcher provider, Envoy gets no Secret it did not ask for a source of); unchanged without
 * a bundle.
 */
export function withRootCaSecret(
  resources: XdsResourceSet,
  view: ClientView,
  trustBundlePem: readonly string[] | undefined,
): XdsResourceSet {
  if (view.kind !== 'weft' || trustBundlePem === undefined || trustBundlePem.length === 0)
    return resources;
  const out = new Map<AdsTypeUrl, ReadonlyMap<string, Readonly<Record<string, unknown>>>>(
    resources,
  );
  out.set(SECRET_TYPE_URL, new Map([[SDS_ROOT_CA_SECRET, buildRootCaSecret(trustBundlePem)]]));
  return out;
}
