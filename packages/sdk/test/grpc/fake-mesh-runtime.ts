// A hand-written MeshRuntime for the gRPC integration's unit tests: clusters of real loopback
// endpoints, a routing function the test controls, priority-ordered round robin that honours
// `exclude`, and a record of every lease outcome.
import { WeftError } from '@weft/xds-client';
import type {
  CircuitBreakersUpdate,
  ClusterUpdate,
  RetryPolicyUpdate,
  UpstreamTlsUpdate,
} from '@weft/xds-client';
import { DEFAULT_CIRCUIT_BREAKERS } from '../../src/cluster/cluster-admission.js';
import type {
  AttemptOutcome,
  EndpointLease,
  MeshRuntime,
  RouteDecision,
  RouteInput,
  UpstreamEndpoint,
} from '../../src/runtime/mesh-runtime.js';

/** What the test's routing function returns for one call. */
export interface FakeRoute {
  readonly cluster: string;
  readonly timeoutMs?: number;
  readonly retryPolicy?: RetryPolicyUpdate;
  /** The cluster's circuit breakers; undefined = no CDS resource at hand. */
  readonly circuitBreakers?: CircuitBreakersUpdate;
}

/** Builds an endpoint of `cluster` on 127.0.0.1:`port`. */
export function fakeEndpoint(cluster: string, port: number, priority = 0): UpstreamEndpoint {
  return {
    key: `127.0.0.1:${port}`,
    address: '127.0.0.1',
    port,
    clusterName: cluster,
    locality: { region: priority === 0 ? 'local' : 'remote', zone: '', subZone: '' },
    priority,
  };
}

export class FakeMeshRuntime implements MeshRuntime {
  readonly clusters = new Map<string, UpstreamEndpoint[]>();
  /** Clusters with an UpstreamTlsContext: they get a CDS object (from clusterOf and route). */
  private readonly tlsClusters = new Map<string, ClusterUpdate>();
  readonly outcomes: { key: string; outcome: AttemptOutcome }[] = [];
  readonly inputs: RouteInput[] = [];
  readyError: WeftError | undefined;
  readyCalls = 0;
  private readonly listeners = new Map<string, Set<() => void>>();
  private rr = 0;
  /** Pick the first endpoint not excluded instead of round robin (deterministic tests). */
  ordered = false;

  constructor(
    public routeFn: (input: RouteInput) => FakeRoute | WeftError | 'pending' = () => ({
      cluster: 'default',
    }),
  ) {}

  /** Gives cluster `name` an UpstreamTlsContext (ISTIO_MUTUAL's SDS shape by default). */
  setClusterTls(name: string, tls: Partial<UpstreamTlsUpdate> = {}): void {
    const update: UpstreamTlsUpdate = {
      sni: '',
      certificateSecretNames: ['default'],
      certificateProviderInstance: undefined,
      validationSecretName: 'ROOTCA',
      validationProviderInstance: undefined,
      matchSubjectAltNames: [],
      alpnProtocols: [],
      ...tls,
    };
    const cluster = {
      name,
      connectTimeoutMs: 5000,
      circuitBreakers: DEFAULT_CIRCUIT_BREAKERS,
      lbPolicy: { kind: 'round_robin' },
      tls: update,
    };
    // Only the fields the transport reads.
    this.tlsClusters.set(name, cluster as unknown as ClusterUpdate);
  }

  setCluster(name: string, endpoints: UpstreamEndpoint[]): void {
    this.clusters.set(name, endpoints);
    for (const set of this.listeners.values()) for (const fn of set) fn();
  }

  route(input: RouteInput): RouteDecision | WeftError | 'pending' {
    this.inputs.push(input);
    const r = this.routeFn(input);
    if (r === 'pending' || r instanceof WeftError) return r;
    const decision = {
      listenerName: input.authority,
      routeConfigName: input.authority,
      virtualHostName: 'vh',
      routeName: 'route',
      clusterName: r.cluster,
      timeoutMs: r.timeoutMs,
      pick: (exclude?: ReadonlySet<string>) => this.pick(r.cluster, exclude),
      retryPolicy: r.retryPolicy,
      action: { requestMirrorPolicies: [] },
      filters: [],
      pickMirror: () => undefined,
      cluster:
        this.tlsClusters.get(r.cluster) ??
        (r.circuitBreakers === undefined
          ? undefined
          : {
              name: r.cluster,
              circuitBreakers: r.circuitBreakers,
              lbPolicy: { kind: 'round_robin' },
            }),
      unavailableError: () => new WeftError('WEFT_NO_HEALTHY_UPSTREAM', `cluster ${r.cluster}`),
    };
    // Only the fields the transport reads; the contract may grow fields this fake ignores.
    return decision as unknown as RouteDecision;
  }

  private pick(cluster: string, exclude?: ReadonlySet<string>): EndpointLease | undefined {
    const endpoints = this.clusters.get(cluster) ?? [];
    const priorities = [...new Set(endpoints.map((e) => e.priority))].sort((a, b) => a - b);
    for (const p of priorities) {
      const candidates = endpoints.filter((e) => e.priority === p && !exclude?.has(e.key));
      if (candidates.length === 0) continue;
      this.rr += 1;
      const endpoint = candidates[this.ordered ? 0 : this.rr % candidates.length]!;
      let done = false;
      return {
        endpoint,
        done: (outcome) => {
          if (done) throw new Error(`lease ${endpoint.key} done twice`);
          done = true;
          this.outcomes.push({ key: endpoint.key, outcome });
        },
      };
    }
    return undefined;
  }

  async whenReady(_authority: string, _timeoutMs: number): Promise<void> {
    this.readyCalls += 1;
    await Promise.resolve();
    if (this.readyError !== undefined) throw this.readyError;
  }

  endpointsOf(_authority: string): readonly UpstreamEndpoint[] {
    return [...this.clusters.values()].flat();
  }

  clusterOf(_authority: string, clusterName: string): ClusterUpdate | undefined {
    return this.tlsClusters.get(clusterName);
  }

  onUpdate(authority: string, listener: () => void): () => void {
    const set = this.listeners.get(authority) ?? new Set();
    set.add(listener);
    this.listeners.set(authority, set);
    return () => set.delete(listener);
  }

  listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  describe(): unknown {
    return {};
  }

  close(): void {
    this.listeners.clear();
  }
}
