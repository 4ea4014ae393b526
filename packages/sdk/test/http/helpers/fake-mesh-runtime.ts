// A hand-written MeshRuntime for transport tests: routes authorities to fixed endpoint lists,
// picks in order (skipping excluded keys) and records every lease outcome.
import { WeftError } from '@weft/xds-client';
import type { EffectiveHttpFilters } from '../../../src/routing/route-filters.js';
import type {
  CircuitBreakersUpdate,
  ClusterUpdate,
  RetryPolicyUpdate,
  RouteActionUpdate,
} from '@weft/xds-client';
import type {
  AttemptOutcome,
  EndpointLease,
  MeshRuntime,
  RouteDecision,
  RouteInput,
  UpstreamEndpoint,
} from '../../../src/runtime/mesh-runtime.js';

/** One authority's routing in the fake: which cluster and endpoints, by request. */
export interface FakeRoute {
  readonly cluster: string;
  readonly timeoutMs?: number | undefined;
  readonly retryPolicy?: RetryPolicyUpdate | undefined;
  /** Circuit breakers of the cluster (max_retries, retry budget); undefined = no CDS resource. */
  readonly circuitBreakers?: CircuitBreakersUpdate | undefined;
  /** The cluster's max_requests_per_connection (needs `circuitBreakers` for a CDS resource). */
  readonly maxRequestsPerConnection?: number | undefined;
  /** The route's effective HTTP filters (fault, local rate limit); default none. */
  readonly filters?: EffectiveHttpFilters | undefined;
  /** Ports on 127.0.0.1, in pick order; may depend on the request (header routing). */
  readonly ports: (input: RouteInput) => readonly number[];
}

export function endpointOf(cluster: string, port: number): UpstreamEndpoint {
  return {
    key: `127.0.0.1:${port}`,
    address: '127.0.0.1',
    port,
    clusterName: cluster,
    locality: { region: 'us-east-1', zone: 'us-east-1a', subZone: '' },
    priority: 0,
  };
}

export class FakeMeshRuntime implements MeshRuntime {
  readonly routes = new Map<string, FakeRoute>();
  readonly outcomes: { key: string; outcome: AttemptOutcome }[] = [];
  readonly inputs: RouteInput[] = [];
  /** Authorities whose config is not there yet: route() answers 'pending' until release(). */
  readonly pending = new Map<string, () => void>();
  private readonly listeners = new Map<string, Set<() => void>>();
  closed = false;

  setRoute(authority: string, route: FakeRoute): void {
    this.routes.set(authority, route);
    for (const l of this.listeners.get(authority) ?? []) l();
  }

  hold(authority: string): void {
    this.pending.set(authority, () => undefined);
  }

  release(authority: string): void {
    const resolve = this.pending.get(authority);
    this.pending.delete(authority);
    resolve?.();
  }

  route(input: RouteInput): RouteDecision | WeftError | 'pending' {
    this.inputs.push(input);
    if (this.pending.has(input.authority)) return 'pending';
    const route = this.routes.get(input.authority);
    if (route === undefined) {
      return new WeftError('WEFT_NO_ROUTE', `listener ${input.authority}: not found`);
    }
    const endpoints = route.ports(input).map((p) => endpointOf(route.cluster, p));
    const pick = (exclude?: ReadonlySet<string>): EndpointLease | undefined => {
      const endpoint = endpoints.find((e) => !(exclude?.has(e.key) ?? false));
      if (endpoint === undefined) return undefined;
      return {
        endpoint,
        done: (outcome) => {
          this.outcomes.push({ key: endpoint.key, outcome });
        },
      };
    };
    return {
      listenerName: input.authority,
      routeConfigName: input.authority,
      virtualHostName: 'vh',
      routeName: 'default',
      clusterName: route.cluster,
      timeoutMs: route.timeoutMs,
      pick,
      retryPolicy: route.retryPolicy,
      pickMirror: () => undefined,
      action: { requestMirrorPolicies: [] } as unknown as RouteActionUpdate,
      cluster:
        route.circuitBreakers === undefined
          ? undefined
          : ({
              name: route.cluster,
              circuitBreakers: route.circuitBreakers,
              maxRequestsPerConnection: route.maxRequestsPerConnection,
            } as unknown as ClusterUpdate),
      filters: route.filters ?? [],
      unavailableError: () =>
        new WeftError('WEFT_NO_HEALTHY_UPSTREAM', `cluster ${route.cluster}: no healthy upstream`),
    };
  }

  whenReady(authority: string, _timeoutMs: number): Promise<void> {
    if (!this.pending.has(authority)) return Promise.resolve();
    return new Promise((resolve) => this.pending.set(authority, resolve));
  }

  clusterOf(_authority: string, _clusterName: string): ClusterUpdate | undefined {
    return undefined;
  }

  endpointsOf(authority: string): readonly UpstreamEndpoint[] {
    const route = this.routes.get(authority);
    if (route === undefined) return [];
    const input: RouteInput = { authority, path: '/', header: () => undefined };
    return route.ports(input).map((p) => endpointOf(route.cluster, p));
  }

  onUpdate(authority: string, listener: () => void): () => void {
    let set = this.listeners.get(authority);
    if (set === undefined) this.listeners.set(authority, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  describe(): unknown {
    return {};
  }

  close(): void {
    this.closed = true;
  }
}
