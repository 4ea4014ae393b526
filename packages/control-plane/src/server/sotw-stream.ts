// One StreamAggregatedResources (state-of-the-world) stream: subscriptions, nonces, ACK/NACK,
// push-on-change. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#the-xds-transport-protocol
import {
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  type AdsTypeUrl,
  type AnyMessage,
} from '@weft/xds-client';
import type { NodeMessage } from './client-identity.js';
import { encodedBytes, TYPE_SHORT_NAMES } from './client-status.js';
import { AdsStream, isAdsTypeUrl, type ErrorDetail } from './ads-stream.js';

/** envoy.service.discovery.v3.DiscoveryRequest as proto-loader delivers it. */
export interface DiscoveryRequestMessage {
  readonly version_info?: string;
  readonly node?: NodeMessage | null;
  readonly resource_names?: readonly string[];
  readonly type_url?: string;
  readonly response_nonce?: string;
  readonly error_detail?: ErrorDetail | null;
}

/** envoy.service.discovery.v3.DiscoveryResponse as written. */
export interface DiscoveryResponseMessage {
  readonly version_info: string;
  readonly resources: readonly AnyMessage[];
  readonly type_url: string;
  readonly nonce: string;
}

interface SotwTypeState {
  wildcard: boolean;
  names: Set<string>;
  lastNonce: string;
  /** name → version of what the client was last sent and is still in scope. */
  sent: Map<string, string>;
}

/** LDS and CDS: every response carries the full set; absence means deletion (XDS-NOTES 9). */
function isFullSetType(typeUrl: AdsTypeUrl): boolean {
  return typeUrl === LISTENER_TYPE_URL || typeUrl === CLUSTER_TYPE_URL;
}

/** Server side of one SotW ADS stream. */
export class SotwStream extends AdsStream<DiscoveryRequestMessage, DiscoveryResponseMessage> {
  readonly protocol = 'sotw' as const;
  readonly #types = new Map<AdsTypeUrl, SotwTypeState>();

  protected override hasType(typeUrl: AdsTypeUrl): boolean {
    return this.#types.has(typeUrl);
  }

  protected override namedSubscriptions(typeUrl: AdsTypeUrl): readonly string[] {
    return [...(this.#types.get(typeUrl)?.names ?? [])];
  }

  protected override pushType(typeUrl: AdsTypeUrl): void {
    this.#respond(typeUrl, false);
  }

  protected override onRequest(req: DiscoveryRequestMessage): void {
    if (this.closed) return;
    if (!this.noteNode(req.node)) return;
    const typeUrl = req.type_url;
    if (!isAdsTypeUrl(typeUrl)) {
      this.host.logger.debug('ignoring request for an unserved type', {
        nodeId: this.nodeId,
        typeUrl,
      });
      return;
    }
    const nonce = req.response_nonce ?? '';
    let st = this.#types.get(typeUrl);
    const first = st === undefined;
    if (st !== undefined && nonce !== '' && nonce !== st.lastNonce) {
      // Stale: answers a response that a newer one has superseded (XDS-NOTES 6).
      this.host.logger.debug('ignoring request with a stale nonce', {
        nodeId: this.nodeId,
        type: TYPE_SHORT_NAMES[typeUrl],
        nonce,
        latest: st.lastNonce,
      });
      return;
    }
    if (nonce !== '') this.recordAnswer(typeUrl, nonce, req.error_detail);
    if (st === undefined) {
      if (nonce !== '') return; // A nonce we never sent on this stream.
      st = { wildcard: false, names: new Set(), lastNonce: '', sent: new Map() };
      this.#types.set(typeUrl, st);
    }
    if (nonce !== '')
      this.recordAckOrNack(typeUrl, req.version_info ?? '', nonce, req.error_detail);

    const requested = req.resource_names ?? [];
    const before = st.names;
    // An empty first LDS/CDS request is the legacy wildcard; '*' is the explicit one.
    st.wildcard =
      requested.includes('*') ||
      (isFullSetType(typeUrl) && requested.length === 0 && (first || st.wildcard));
    st.names = new Set(requested.filter((n) => n !== '*'));
    for (const name of st.sent.keys()) if (!this.#inScope(st, name)) st.sent.delete(name);
    const scope = st;
    this.resources.retain(typeUrl, (name) => this.#inScope(scope, name));
    const s = this.typeStatus(typeUrl);
    s.subscribed = st.wildcard ? '*' : [...st.names].sort();

    // Newly requested names are answered even if unchanged; the first LDS/CDS request is always
    // answered so a client learns early that its set is empty.
    const newlyRequested = [...st.names].filter((n) => !before.has(n));
    this.#respond(
      typeUrl,
      (first && isFullSetType(typeUrl)) || newlyRequested.length > 0,
      newlyRequested,
    );
  }

  #inScope(st: SotwTypeState, name: string): boolean {
    return st.wildcard || st.names.has(name);
  }

  /** Sends the type's resources for this client if they differ from what it was sent. */
  #respond(typeUrl: AdsTypeUrl, force: boolean, newlyRequested: readonly string[] = []): void {
    const st = this.#types.get(typeUrl);
    if (st === undefined) return;
    const snapshot = this.snapshot();
    const entry = snapshot.types.get(typeUrl);
    if (entry === undefined) return;
    const desired = st.wildcard
      ? [...entry.resources.values()]
      : [...st.names].sort().flatMap((n) => {
          const r = entry.resources.get(n);
          return r === undefined ? [] : [r];
        });
    let changed = desired.some((r) => st.sent.get(r.name) !== r.version);
    if (isFullSetType(typeUrl) && !changed) {
      const present = new Set(desired.map((r) => r.name));
      changed = [...st.sent.keys()].some((n) => !present.has(n));
    }
    // A newly requested name that does not exist yet is remembered (st.names) and pushed when it
    // appears; for RDS/EDS an answer without it would tell the client nothing.
    const forceUseful =
      force && (isFullSetType(typeUrl) || newlyRequested.some((n) => entry.resources.has(n)));
    if (!changed && !forceUseful) return;

    const nonce = this.nextNonce();
    st.lastNonce = nonce;
    st.sent = new Map(desired.map((r) => [r.name, r.version]));
    const s = this.typeStatus(typeUrl);
    s.sentVersion = entry.version;
    s.sentNonce = nonce;
    const anys = desired.map((r) => r.any);
    this.recordSent(typeUrl, {
      nonce,
      resources: desired.map((r) => ({
        name: r.name,
        version: entry.version,
        resourceVersion: r.version,
        any: r.any,
      })),
      removed: [],
      fullSet: true,
    });
    this.call.write({
      version_info: entry.version,
      resources: anys,
      type_url: typeUrl,
      nonce,
    });
    this.host.emitServerEvent('push', {
      streamId: this.streamId,
      nodeId: this.nodeId,
      typeUrl,
      version: entry.version,
      nonce,
      resourceNames: desired.map((r) => r.name),
      removedNames: [],
      generation: snapshot.generation,
      bytes: encodedBytes(anys),
    });
  }
}
