// One DeltaAggregatedResources (incremental) stream: subscribe/unsubscribe, per-resource
// versions, removed_resources. https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
import {
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  type AdsTypeUrl,
  type AnyMessage,
} from '@weft/xds-client';
import type { NodeMessage } from './client-identity.js';
import { encodedBytes, TYPE_SHORT_NAMES } from './client-status.js';
import { AdsStream, isAdsTypeUrl, type ErrorDetail } from './ads-stream.js';

/** envoy.service.discovery.v3.DeltaDiscoveryRequest as proto-loader delivers it. */
export interface DeltaDiscoveryRequestMessage {
  readonly node?: NodeMessage | null;
  readonly type_url?: string;
  readonly resource_names_subscribe?: readonly string[];
  readonly resource_names_unsubscribe?: readonly string[];
  readonly initial_resource_versions?: Readonly<Record<string, string>>;
  readonly response_nonce?: string;
  readonly error_detail?: ErrorDetail | null;
}

/** envoy.service.discovery.v3.DeltaDiscoveryResponse as written. */
export interface DeltaDiscoveryResponseMessage {
  readonly system_version_info: string;
  readonly resources: readonly { name: string; version: string; resource: AnyMessage }[];
  readonly type_url: string;
  readonly removed_resources: readonly string[];
  readonly nonce: string;
}

interface DeltaTypeState {
  wildcard: boolean;
  subscribed: Set<string>;
  /** name → version the client holds, as far as the server knows. */
  has: Map<string, string>;
  lastNonce: string;
  lastVersion: string;
}

/**
 * Server side of one Delta ADS stream.
 *
 * A subscribed name that does not exist is answered in `removed_resources` (the spec's "does
 * not exist" for incremental variants; clients treat removal of a name they never had as
 * does-not-exist), and stays subscribed so it is pushed when it appears.
 */
export class DeltaStream extends AdsStream<
  DeltaDiscoveryRequestMessage,
  DeltaDiscoveryResponseMessage
> {
  readonly protocol = 'delta' as const;
  readonly #types = new Map<AdsTypeUrl, DeltaTypeState>();

  protected override hasType(typeUrl: AdsTypeUrl): boolean {
    return this.#types.has(typeUrl);
  }

  protected override namedSubscriptions(typeUrl: AdsTypeUrl): readonly string[] {
    return [...(this.#types.get(typeUrl)?.subscribed ?? [])];
  }

  protected override pushType(typeUrl: AdsTypeUrl): void {
    this.#respond(typeUrl, new Set());
  }

  protected override onRequest(req: DeltaDiscoveryRequestMessage): void {
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
    let st = this.#types.get(typeUrl);
    const first = st === undefined;
    if (st === undefined) {
      st = {
        wildcard: false,
        subscribed: new Set(),
        has: new Map(),
        lastNonce: '',
        lastVersion: '',
      };
      this.#types.set(typeUrl, st);
      // Reconnect: what the client already holds (XDS-NOTES 14). Only the first request counts.
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {}))
        st.has.set(name, version);
    }
    const nonce = req.response_nonce ?? '';
    if (nonce !== '') {
      this.recordAnswer(typeUrl, nonce, req.error_detail);
      if (nonce === st.lastNonce)
        this.recordAckOrNack(typeUrl, st.lastVersion, nonce, req.error_detail);
      else
        this.host.logger.debug('stale delta ACK/NACK ignored', {
          nodeId: this.nodeId,
          type: TYPE_SHORT_NAMES[typeUrl],
          nonce,
        });
    }

    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    if (
      first &&
      subscribe.length === 0 &&
      (typeUrl === LISTENER_TYPE_URL || typeUrl === CLUSTER_TYPE_URL)
    ) {
      st.wildcard = true;
    }
    const force = new Set<string>();
    for (const name of subscribe) {
      if (name === '*') st.wildcard = true;
      else {
        st.subscribed.add(name);
        force.add(name);
      }
    }
    for (const name of unsubscribe) {
      // Unknown names are ignored; '*' leaves wildcard mode.
      if (name === '*') st.wildcard = false;
      else if (st.subscribed.delete(name)) st.has.delete(name);
    }
    if (unsubscribe.length > 0) {
      const scope = st;
      this.resources.retain(typeUrl, (name) => scope.wildcard || scope.subscribed.has(name));
    }
    if (first) {
      // initial_resource_versions wins over "answer every subscribed name": a matching version
      // means the client already holds exactly this resource.
      const entry = this.snapshot().types.get(typeUrl);
      for (const [name, version] of st.has) {
        if (entry?.resources.get(name)?.version === version) force.delete(name);
      }
    }
    const s = this.typeStatus(typeUrl);
    s.subscribed = st.wildcard ? '*' : [...st.subscribed].sort();
    this.#respond(typeUrl, force);
  }

  /** Sends what changed for this client, plus every name in `force`. */
  #respond(typeUrl: AdsTypeUrl, force: ReadonlySet<string>): void {
    const st = this.#types.get(typeUrl);
    if (st === undefined) return;
    const snapshot = this.snapshot();
    const entry = snapshot.types.get(typeUrl);
    if (entry === undefined) return;
    const candidates = new Set(st.subscribed);
    if (st.wildcard) {
      for (const name of entry.resources.keys()) candidates.add(name);
      for (const name of st.has.keys()) candidates.add(name);
    }
    const resources: { name: string; version: string; resource: AnyMessage }[] = [];
    const removed: string[] = [];
    for (const name of [...candidates].sort()) {
      const r = entry.resources.get(name);
      if (r !== undefined) {
        if (force.has(name) || st.has.get(name) !== r.version) {
          resources.push({ name, version: r.version, resource: r.any });
          st.has.set(name, r.version);
        }
      } else if (st.has.delete(name) || force.has(name)) {
        removed.push(name);
      }
    }
    if (resources.length === 0 && removed.length === 0) return;
    const nonce = this.nextNonce();
    st.lastNonce = nonce;
    st.lastVersion = entry.version;
    const s = this.typeStatus(typeUrl);
    s.sentVersion = entry.version;
    s.sentNonce = nonce;
    this.recordSent(typeUrl, {
      nonce,
      resources: resources.map((r) => ({
        name: r.name,
        version: r.version,
        resourceVersion: r.version,
        any: r.resource,
      })),
      removed,
      fullSet: false,
    });
    this.call.write({
      system_version_info: entry.version,
      resources,
      type_url: typeUrl,
      removed_resources: removed,
      nonce,
    });
    this.host.emitServerEvent('push', {
      streamId: this.streamId,
      nodeId: this.nodeId,
      typeUrl,
      version: entry.version,
      nonce,
      resourceNames: resources.map((r) => r.name),
      removedNames: removed,
      generation: snapshot.generation,
      bytes: encodedBytes(resources.map((r) => r.resource)),
    });
  }
}
