// What one client holds per xDS type, as far as its ACKs and NACKs tell the server: the input of
// CSDS and the admin /config_dump. https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/status/v3/csds.proto
import type { AdsTypeUrl, AnyMessage } from '@weft/xds-client';
import type { ClientKind } from '../contracts.js';
import type { NodeMessage } from './client-identity.js';
import type { NackRecord } from './client-status.js';

/** One resource of a response as written to the stream. */
export interface SentResource {
  readonly name: string;
  /** The version CSDS reports: SotW the response's `version_info`, Delta the resource's version. */
  readonly version: string;
  /** The snapshot's content hash of the resource (tells a changed resource from a re-sent one). */
  readonly resourceVersion: string;
  /** The snapshot's encoded Any (a reference, never a copy). */
  readonly any: AnyMessage;
}

/** One response as written to the stream, remembered until the client answers it. */
export interface SentResponse {
  readonly nonce: string;
  readonly resources: readonly SentResource[];
  /** Delta `removed_resources` (always empty in SotW). */
  readonly removed: readonly string[];
  /** SotW: the response is the client's whole set for the type (an ACK replaces what it holds). */
  readonly fullSet: boolean;
}

/** A resource the client accepted. */
export interface HeldResource {
  readonly version: string;
  readonly resourceVersion: string;
  readonly any: AnyMessage;
  /** When the client ACKed this content, ms since the epoch (injected clock). */
  readonly updatedAtMs: number;
}

/** A resource of a response the client rejected. */
export interface NackedResource {
  /** Version of the rejected resource (as in {@link SentResource.version}). */
  readonly version: string;
  /** The rejected configuration. */
  readonly any: AnyMessage;
  /** `error_detail.message` of the NACK (it is per response, not per resource). */
  readonly message: string;
  /** When the NACK arrived, ms since the epoch. */
  readonly atMs: number;
}

/** Per-resource status from the client's side (envoy.admin.v3.ClientResourceStatus). */
export type ResourceClientStatus = 'REQUESTED' | 'DOES_NOT_EXIST' | 'ACKED' | 'NACKED';
/** Per-resource status from the server's side (envoy.service.status.v3.ConfigStatus). */
export type ResourceConfigStatus = 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR';

/** One resource of one client, as CSDS and /config_dump report it. */
export interface ResourceConfigEntry {
  readonly typeUrl: AdsTypeUrl;
  readonly name: string;
  /** Version the client holds ('' = none). */
  readonly version: string;
  /** What the client holds (null = nothing accepted yet). */
  readonly any: AnyMessage | null;
  /** When the client accepted it, ms since the epoch (null = nothing accepted yet). */
  readonly updatedAtMs: number | null;
  readonly clientStatus: ResourceClientStatus;
  readonly configStatus: ResourceConfigStatus;
  /** The last rejected version of this resource, until an accepted update clears it. */
  readonly error: NackedResource | null;
}

/** At most this many unanswered responses are remembered per type (older ones are dropped). */
const MAX_PENDING = 8;

interface TypeResources {
  readonly held: Map<string, HeldResource>;
  pending: SentResponse[];
  readonly nacked: Map<string, NackedResource>;
}

/**
 * Per type: the responses not yet answered, what the client ACKed (SotW: the ACKed response's
 * set; Delta: upserts applied, removals deleted) and what it NACKed. A NACK leaves the held set
 * as it was. Answers are matched by nonce, stale ones too: a Delta client applies every
 * response it accepts, not only the newest.
 */
export class ClientResourceTracker {
  readonly #types = new Map<AdsTypeUrl, TypeResources>();

  /** Records a response at write time. */
  sent(typeUrl: AdsTypeUrl, response: SentResponse): void {
    const t = this.#type(typeUrl);
    t.pending.push(response);
    if (t.pending.length > MAX_PENDING) t.pending.shift();
  }

  /**
   * Applies the client's answer to the response with `nonce` (ACK when `errorMessage` is
   * undefined). Returns false for a nonce not remembered (never sent, or dropped).
   */
  answered(
    typeUrl: AdsTypeUrl,
    nonce: string,
    errorMessage: string | undefined,
    atMs: number,
  ): boolean {
    const t = this.#types.get(typeUrl);
    if (t === undefined) return false;
    const index = t.pending.findIndex((p) => p.nonce === nonce);
    const response = t.pending[index];
    if (response === undefined) return false;
    // Responses are answered in order; anything older than this one is done with.
    t.pending = t.pending.slice(index + 1);
    if (errorMessage !== undefined) {
      this.#nack(t, response, errorMessage, atMs);
      return true;
    }
    if (response.fullSet) {
      const previous = new Map(t.held);
      t.held.clear();
      t.nacked.clear();
      for (const r of response.resources) t.held.set(r.name, held(r, previous.get(r.name), atMs));
    } else {
      for (const r of response.resources) {
        t.held.set(r.name, held(r, t.held.get(r.name), atMs));
        t.nacked.delete(r.name);
      }
      for (const name of response.removed) {
        t.held.delete(name);
        t.nacked.delete(name);
      }
    }
    return true;
  }

  /** Forgets resources the client no longer subscribes to (it drops them too). */
  retain(typeUrl: AdsTypeUrl, keep: (name: string) => boolean): void {
    const t = this.#types.get(typeUrl);
    if (t === undefined) return;
    for (const name of [...t.held.keys()]) if (!keep(name)) t.held.delete(name);
    for (const name of [...t.nacked.keys()]) if (!keep(name)) t.nacked.delete(name);
  }

  /**
   * Every resource of a type the client holds, was sent, rejected or subscribes to, sorted by
   * name. `exists` tells a requested name the server does not have (DOES_NOT_EXIST).
   */
  entries(
    typeUrl: AdsTypeUrl,
    subscribed: '*' | readonly string[],
    exists: (name: string) => boolean,
  ): ResourceConfigEntry[] {
    const t = this.#types.get(typeUrl);
    const names = new Set<string>(subscribed === '*' ? [] : subscribed);
    const inFlight = new Set<string>();
    if (t !== undefined) {
      for (const name of t.held.keys()) names.add(name);
      for (const name of t.nacked.keys()) names.add(name);
      for (const p of t.pending) {
        for (const r of p.resources) inFlight.add(r.name);
        for (const name of p.removed) inFlight.add(name);
      }
      for (const name of inFlight) names.add(name);
    }
    return [...names].sort().map((name): ResourceConfigEntry => {
      const h = t?.held.get(name);
      const error = t?.nacked.get(name) ?? null;
      const configStatus: ResourceConfigStatus =
        error !== null
          ? 'ERROR'
          : inFlight.has(name)
            ? 'STALE'
            : h !== undefined
              ? 'SYNCED'
              : 'NOT_SENT';
      const clientStatus: ResourceClientStatus =
        error !== null
          ? 'NACKED'
          : h !== undefined
            ? 'ACKED'
            : inFlight.has(name) || exists(name)
              ? 'REQUESTED'
              : 'DOES_NOT_EXIST';
      return {
        typeUrl,
        name,
        version: h?.version ?? '',
        any: h?.any ?? null,
        updatedAtMs: h?.updatedAtMs ?? null,
        clientStatus,
        configStatus,
        error,
      };
    });
  }

  #type(typeUrl: AdsTypeUrl): TypeResources {
    let t = this.#types.get(typeUrl);
    if (t === undefined) {
      t = { held: new Map(), pending: [], nacked: new Map() };
      this.#types.set(typeUrl, t);
    }
    return t;
  }

  /**
   * Marks the resources the rejected response would have changed; when it changed nothing the
   * client holds (e.g. a SotW removal only), every resource it carried.
   */
  #nack(t: TypeResources, response: SentResponse, message: string, atMs: number): void {
    if (response.fullSet) t.nacked.clear();
    const changed = response.resources.filter(
      (r) => t.held.get(r.name)?.resourceVersion !== r.resourceVersion,
    );
    for (const r of changed.length > 0 ? changed : response.resources) {
      t.nacked.set(r.name, { version: r.version, any: r.any, message, atMs });
    }
  }
}

function held(r: SentResource, before: HeldResource | undefined, atMs: number): HeldResource {
  // Re-sent identical content keeps its original acceptance time (CSDS `last_updated`).
  const updatedAtMs =
    before !== undefined && before.resourceVersion === r.resourceVersion
      ? before.updatedAtMs
      : atMs;
  return { version: r.version, resourceVersion: r.resourceVersion, any: r.any, updatedAtMs };
}

/** One type of one client's config. */
export interface TypeConfigSnapshot {
  readonly typeUrl: AdsTypeUrl;
  /** Short name: cds, eds, lds, rds, sds. */
  readonly shortName: string;
  /** `'*'` for a wildcard subscription, else the subscribed names. */
  readonly subscribed: '*' | readonly string[];
  /** The type's last NACK (also kept after a later ACK, like `/clients`). */
  readonly lastNack: NackRecord | null;
  readonly resources: readonly ResourceConfigEntry[];
}

/** What one connected client (one stream) holds: the data behind CSDS and /config_dump. */
export interface ClientConfigSnapshot {
  readonly streamId: number;
  readonly nodeId: string;
  /** The `node` of the stream's first request, as proto-loader delivered it. */
  readonly node: NodeMessage;
  readonly kind: ClientKind;
  readonly userAgent: string;
  readonly protocol: 'sotw' | 'delta';
  /** ms since the epoch (injected clock). */
  readonly connectedAtMs: number;
  /** Types the client asked for, in make-before-break order (CDS, EDS, LDS, RDS, SDS). */
  readonly types: readonly TypeConfigSnapshot[];
}
