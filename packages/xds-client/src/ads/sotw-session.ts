// State-of-the-world ADS (StreamAggregatedResources): per-type version and nonce, full name lists,
// ACK/NACK. (envoy api/xds_protocol.rst "ACK/NACK and resource type instance version",
// "How the client specifies what resources to return"; gRFC A27, A46, A53, A88.)
import type { XdsNackedResource } from '../xds-client-events.js';
import { INVALID_ARGUMENT_CODE, formatNackMessage } from './ads-session.js';
import type { AdsSession, AdsSessionDeps } from './ads-session.js';
import { decodeResource } from './decode-resources.js';
import type { AnyMessage } from '../protos/xds-protos.js';
import { WILDCARD_NAME } from './resource-store.js';

interface SotwTypeState {
  /** Last accepted version_info on this server; kept across reconnects (rule 2). */
  version: string;
  /** Last nonce received on the current stream. */
  nonce: string;
  /** Whether a request of this type went out on the current stream. */
  sent: boolean;
  /** resource_names of the last request on the current stream, joined, to skip no-op updates. */
  lastNames: string;
}

interface SotwResponse {
  version_info?: string;
  resources?: AnyMessage[];
  type_url?: string;
  nonce?: string;
}

/** One server's SotW protocol state. */
export class SotwSession implements AdsSession {
  readonly transport = 'sotw' as const;
  readonly methodName = 'StreamAggregatedResources' as const;
  private readonly types = new Map<string, SotwTypeState>();
  private active = false;

  constructor(private readonly deps: AdsSessionDeps) {}

  private state(typeUrl: string): SotwTypeState {
    let state = this.types.get(typeUrl);
    if (state === undefined) {
      state = { version: '', nonce: '', sent: false, lastNames: '' };
      this.types.set(typeUrl, state);
    }
    return state;
  }

  streamStarted(): void {
    this.active = true;
    for (const state of this.types.values()) {
      state.nonce = '';
      state.sent = false;
      state.lastNames = '';
    }
    for (const cache of this.deps.store.allCaches()) {
      const sub = this.deps.store.subscription(cache.type.typeUrl);
      if (sub.wildcard || sub.names.length > 0) this.sendRequest(cache.type.typeUrl);
    }
  }

  streamEnded(): void {
    this.active = false;
  }

  subscriptionChanged(typeUrl: string): void {
    if (!this.active) return;
    const sub = this.deps.store.subscription(typeUrl);
    // Nothing to say about a type never requested on this stream and still not wanted.
    const state = this.state(typeUrl);
    if (!state.sent && !sub.wildcard && sub.names.length === 0) return;
    if (state.sent && state.lastNames === this.resourceNames(typeUrl).join('\n')) return;
    this.sendRequest(typeUrl);
  }

  private resourceNames(typeUrl: string): string[] {
    const sub = this.deps.store.subscription(typeUrl);
    // Explicit '*' rather than the legacy empty list, so names and wildcard can coexist.
    return sub.wildcard ? [WILDCARD_NAME, ...sub.names] : [...sub.names];
  }

  private sendRequest(typeUrl: string, errorDetail?: string): void {
    const state = this.state(typeUrl);
    const request: Record<string, unknown> = {
      type_url: typeUrl,
      version_info: state.version,
      resource_names: this.resourceNames(typeUrl),
      response_nonce: state.nonce,
    };
    if (errorDetail !== undefined) {
      request['error_detail'] = { code: INVALID_ARGUMENT_CODE, message: errorDetail };
    }
    state.sent = true;
    state.lastNames = (request['resource_names'] as string[]).join('\n');
    this.deps.send(request);
    this.deps.onRequestSent(typeUrl);
  }

  handleResponse(message: unknown): void {
    const response = message as SotwResponse;
    const typeUrl = response.type_url ?? '';
    const version = response.version_info ?? '';
    const nonce = response.nonce ?? '';
    const state = this.state(typeUrl);
    state.nonce = nonce;
    const { store } = this.deps;
    const cache = store.cache(typeUrl);
    if (cache === undefined) {
      const reason = `resource type ${typeUrl} is not supported by this client`;
      this.deps.logger.warn('xds response of unknown type', {
        typeUrl,
        server: this.deps.serverUri,
      });
      this.nack(typeUrl, version, nonce, reason, []);
      return;
    }
    const type = cache.type;
    const seen = new Set<string>();
    const rejected: XdsNackedResource[] = [];
    const valid: { name: string; value: unknown; raw: AnyMessage }[] = [];
    let unnamedRejection = false;
    for (const [index, raw] of (response.resources ?? []).entries()) {
      const decoded = decodeResource(type, raw, this.deps.protos);
      if (decoded.name === undefined) {
        unnamedRejection = true;
        rejected.push({ index, name: undefined, message: decoded.ok ? '' : decoded.message });
        continue;
      }
      // Rule 10: resources nobody asked for are ignored, valid or not.
      if (!store.isWanted(typeUrl, decoded.name)) continue;
      if (seen.has(decoded.name)) {
        rejected.push({ index, name: decoded.name, message: 'duplicate resource name' });
        continue;
      }
      seen.add(decoded.name);
      if (decoded.ok) valid.push({ name: decoded.name, value: decoded.value, raw: decoded.raw });
      else rejected.push({ index, name: decoded.name, message: decoded.message });
    }

    // gRFC A46/A88: valid resources apply even when the response as a whole is NACKed.
    for (const r of valid)
      store.applyValid(typeUrl, r.name, r.value, r.raw, version, this.deps.serverUri);
    for (const r of rejected) {
      if (r.name !== undefined) store.applyInvalid(typeUrl, r.name, r.message, version);
    }
    // Rule 9: LDS/CDS carry the full set, so a wanted name left out was deleted. When a
    // resource could not even be named we cannot tell what is missing, so we skip this.
    if (type.allResourcesRequiredInSotW && !unnamedRejection) {
      for (const name of store.knownNames(typeUrl)) {
        if (seen.has(name) || !store.isWanted(typeUrl, name)) continue;
        if (this.deps.ignoreResourceDeletion && store.hasValue(typeUrl, name)) {
          this.deps.logger.warn(
            'xds resource missing from response; kept (ignore_resource_deletion)',
            {
              type: type.shortName,
              name,
            },
          );
          continue;
        }
        store.applyDoesNotExist(typeUrl, name);
      }
    }

    if (rejected.length > 0) {
      this.nack(typeUrl, version, nonce, formatNackMessage(rejected), rejected);
      return;
    }
    state.version = version;
    store.count(typeUrl, 'ack');
    this.sendRequest(typeUrl);
    this.deps.onAck({
      server: this.deps.serverUri,
      transport: this.transport,
      typeUrl,
      shortName: type.shortName,
      version,
      nonce,
    });
  }

  private nack(
    typeUrl: string,
    rejectedVersion: string,
    nonce: string,
    message: string,
    resources: readonly XdsNackedResource[],
  ): void {
    const state = this.state(typeUrl);
    this.deps.store.count(typeUrl, 'nack');
    this.deps.logger.warn('xds NACK', {
      typeUrl,
      rejectedVersion,
      server: this.deps.serverUri,
      message,
    });
    this.sendRequest(typeUrl, message);
    this.deps.onNack({
      server: this.deps.serverUri,
      transport: this.transport,
      typeUrl,
      shortName: this.deps.store.cache(typeUrl)?.type.shortName ?? '',
      rejectedVersion,
      acceptedVersion: state.version,
      nonce,
      message,
      resources,
    });
  }

  typeStatus(typeUrl: string): { version: string; nonce: string } {
    const state = this.types.get(typeUrl);
    return { version: state?.version ?? '', nonce: state?.nonce ?? '' };
  }
}
