// Incremental ADS (DeltaAggregatedResources): subscribe/unsubscribe diffs, per-resource versions,
// removed_resources, initial_resource_versions on reconnect. (envoy api/xds_protocol.rst
// "Incremental xDS"; gRFC A88.)
import type { AnyMessage } from '../protos/xds-protos.js';
import type { XdsNackedResource } from '../xds-client-events.js';
import { INVALID_ARGUMENT_CODE, formatNackMessage } from './ads-session.js';
import type { AdsSession, AdsSessionDeps } from './ads-session.js';
import { decodeResource } from './decode-resources.js';
import { WILDCARD_NAME } from './resource-store.js';

interface DeltaTypeState {
  /** Last nonce received on the current stream. */
  nonce: string;
  /** Last system_version_info received (informational only in Delta). */
  systemVersion: string;
  /** Names subscribed on the current stream; undefined until the type's first request on it. */
  subscribed: Set<string> | undefined;
}

interface DeltaResource {
  name?: string;
  version?: string;
  resource?: AnyMessage | null;
}

interface DeltaResponse {
  system_version_info?: string;
  resources?: DeltaResource[];
  type_url?: string;
  removed_resources?: string[];
  nonce?: string;
}

/** One server's Delta protocol state. No state survives a stream except what the cache holds (rule 14). */
export class DeltaSession implements AdsSession {
  readonly transport = 'delta' as const;
  readonly methodName = 'DeltaAggregatedResources' as const;
  private readonly types = new Map<string, DeltaTypeState>();
  private active = false;

  constructor(private readonly deps: AdsSessionDeps) {}

  private state(typeUrl: string): DeltaTypeState {
    let state = this.types.get(typeUrl);
    if (state === undefined) {
      state = { nonce: '', systemVersion: '', subscribed: undefined };
      this.types.set(typeUrl, state);
    }
    return state;
  }

  private desired(typeUrl: string): Set<string> {
    const sub = this.deps.store.subscription(typeUrl);
    const names = new Set(sub.names);
    if (sub.wildcard) names.add(WILDCARD_NAME);
    return names;
  }

  streamStarted(): void {
    this.active = true;
    for (const state of this.types.values()) {
      state.nonce = '';
      state.subscribed = undefined;
    }
    for (const cache of this.deps.store.allCaches()) this.subscriptionChanged(cache.type.typeUrl);
  }

  streamEnded(): void {
    this.active = false;
  }

  subscriptionChanged(typeUrl: string): void {
    if (!this.active) return;
    const state = this.state(typeUrl);
    const desired = this.desired(typeUrl);
    if (state.subscribed === undefined) {
      if (desired.size === 0) return;
      // First request of the type on this stream: the full subscription plus what we hold.
      state.subscribed = desired;
      const request: Record<string, unknown> = {
        type_url: typeUrl,
        resource_names_subscribe: [...desired].sort(),
      };
      const versions = this.deps.store.versionsFrom(typeUrl, this.deps.serverUri);
      if (Object.keys(versions).length > 0) request['initial_resource_versions'] = versions;
      this.deps.send(request);
      this.deps.onRequestSent(typeUrl);
      return;
    }
    const subscribe = [...desired].filter((n) => !state.subscribed?.has(n)).sort();
    const unsubscribe = [...state.subscribed].filter((n) => !desired.has(n)).sort();
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    state.subscribed = desired;
    // Rule 12: a spontaneous subscription change carries no response_nonce.
    this.deps.send({
      type_url: typeUrl,
      resource_names_subscribe: subscribe,
      resource_names_unsubscribe: unsubscribe,
    });
    this.deps.onRequestSent(typeUrl);
  }

  handleResponse(message: unknown): void {
    const response = message as DeltaResponse;
    const typeUrl = response.type_url ?? '';
    const nonce = response.nonce ?? '';
    const systemVersion = response.system_version_info ?? '';
    const state = this.state(typeUrl);
    state.nonce = nonce;
    const { store } = this.deps;
    const cache = store.cache(typeUrl);
    if (cache === undefined) {
      this.deps.logger.warn('xds response of unknown type', {
        typeUrl,
        server: this.deps.serverUri,
      });
      this.nack(
        typeUrl,
        systemVersion,
        nonce,
        `resource type ${typeUrl} is not supported by this client`,
        [],
      );
      return;
    }
    const type = cache.type;
    const seen = new Set<string>();
    const rejected: XdsNackedResource[] = [];
    const valid: { name: string; value: unknown; raw: AnyMessage; version: string }[] = [];
    const missing: string[] = [];
    const failedVersions = new Map<string, string>();
    for (const [index, resource] of (response.resources ?? []).entries()) {
      const wrapperName = resource.name ?? '';
      const version = resource.version ?? '';
      const body = resource.resource ?? undefined;
      if (body === undefined) {
        // Rule 13: a Resource with a name and no body says the resource does not exist.
        if (wrapperName !== '' && store.isWanted(typeUrl, wrapperName)) missing.push(wrapperName);
        continue;
      }
      const decoded = decodeResource(type, body, this.deps.protos);
      const name = wrapperName !== '' ? wrapperName : decoded.name;
      if (name === undefined) {
        rejected.push({ index, name: undefined, message: decoded.ok ? '' : decoded.message });
        continue;
      }
      if (!store.isWanted(typeUrl, name)) continue;
      if (seen.has(name)) {
        rejected.push({ index, name, message: 'duplicate resource name' });
        continue;
      }
      seen.add(name);
      if (!decoded.ok) {
        rejected.push({ index, name, message: decoded.message });
        failedVersions.set(name, version);
      } else if (decoded.name !== name) {
        rejected.push({ index, name, message: `resource is named ${decoded.name}, not ${name}` });
        failedVersions.set(name, version);
      } else valid.push({ name, value: decoded.value, raw: decoded.raw, version });
    }

    for (const r of valid)
      store.applyValid(typeUrl, r.name, r.value, r.raw, r.version, this.deps.serverUri);
    for (const r of rejected) {
      if (r.name !== undefined)
        store.applyInvalid(typeUrl, r.name, r.message, failedVersions.get(r.name) ?? '');
    }
    for (const name of missing) store.applyDoesNotExist(typeUrl, name);
    for (const name of response.removed_resources ?? []) {
      if (!store.isWanted(typeUrl, name)) continue;
      if (this.deps.ignoreResourceDeletion && store.hasValue(typeUrl, name)) {
        this.deps.logger.warn('xds resource removed; kept (ignore_resource_deletion)', {
          type: type.shortName,
          name,
        });
        continue;
      }
      store.applyDoesNotExist(typeUrl, name);
    }

    if (rejected.length > 0) {
      this.nack(typeUrl, systemVersion, nonce, formatNackMessage(rejected), rejected);
      return;
    }
    state.systemVersion = systemVersion;
    store.count(typeUrl, 'ack');
    this.send({ type_url: typeUrl, response_nonce: nonce });
    this.deps.onAck({
      server: this.deps.serverUri,
      transport: this.transport,
      typeUrl,
      shortName: type.shortName,
      version: systemVersion,
      nonce,
    });
  }

  private send(request: Record<string, unknown>): void {
    if (!this.active) return;
    this.deps.send(request);
  }

  private nack(
    typeUrl: string,
    rejectedVersion: string,
    nonce: string,
    message: string,
    resources: readonly XdsNackedResource[],
  ): void {
    this.deps.store.count(typeUrl, 'nack');
    this.deps.logger.warn('xds NACK', {
      typeUrl,
      rejectedVersion,
      server: this.deps.serverUri,
      message,
    });
    this.send({
      type_url: typeUrl,
      response_nonce: nonce,
      error_detail: { code: INVALID_ARGUMENT_CODE, message },
    });
    this.deps.onNack({
      server: this.deps.serverUri,
      transport: this.transport,
      typeUrl,
      shortName: this.deps.store.cache(typeUrl)?.type.shortName ?? '',
      rejectedVersion,
      acceptedVersion: '',
      nonce,
      message,
      resources,
    });
  }

  typeStatus(typeUrl: string): { version: string; nonce: string } {
    const state = this.types.get(typeUrl);
    return { version: state?.systemVersion ?? '', nonce: state?.nonce ?? '' };
  }
}
