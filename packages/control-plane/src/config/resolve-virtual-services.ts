// Resolves VirtualServices: checks every destination against the services and subsets that exist,
// Istio's weight rule, and unreachable routes; fills defaults. Spec:
// https://istio.io/latest/docs/reference/config/networking/virtual-service/
import type { LocatedIssue } from '../contracts.js';
import type {
  HeaderOperations,
  HttpMatch,
  HttpRoute,
  MeshDestinationPolicy,
  MeshService,
  MeshVirtualService,
  NamedStringMatch,
  RetryPolicy,
  StringMatch,
} from './mesh-model.js';
import type { ParsedResource } from './parse-resources.js';
import { resourceIssue } from './resource-issue.js';
import { GRPC_STATUS_CODES } from './schemas/virtual-service-schema.js';
import type { VirtualServiceSpec } from './schemas/virtual-service-schema.js';
import type { FieldPath } from './yaml-documents.js';

type VirtualServiceResource = Extract<ParsedResource, { kind: 'VirtualService' }>;
type HttpSpec = NonNullable<VirtualServiceSpec['http']>[number];
type MatchSpec = NonNullable<HttpSpec['match']>[number];
type StringMatchSpec = {
  exact?: string | undefined;
  prefix?: string | undefined;
  regex?: string | undefined;
};
type HeaderOpsSpec = {
  set?: Record<string, string> | undefined;
  add?: Record<string, string> | undefined;
  remove?: string[] | undefined;
};

function stringMatchOf(m: StringMatchSpec): StringMatch {
  if (m.exact !== undefined) return { kind: 'exact', value: m.exact };
  if (m.prefix !== undefined) return { kind: 'prefix', value: m.prefix };
  return { kind: 'regex', value: m.regex ?? '' };
}

function namedMatches(record: Record<string, StringMatchSpec> | undefined): NamedStringMatch[] {
  return Object.entries(record ?? {}).map(([name, m]) => ({ name, match: stringMatchOf(m) }));
}

function matchOf(m: MatchSpec): HttpMatch {
  return {
    uri: m.uri === undefined ? null : stringMatchOf(m.uri),
    ignoreUriCase: m.ignoreUriCase ?? false,
    headers: namedMatches(m.headers),
    withoutHeaders: namedMatches(m.withoutHeaders),
    queryParams: namedMatches(m.queryParams),
  };
}

function headerOpsOf(ops: HeaderOpsSpec | undefined): HeaderOperations {
  return {
    set: { ...(ops?.set ?? {}) },
    add: { ...(ops?.add ?? {}) },
    remove: [...(ops?.remove ?? [])],
  };
}

/** Istio's default `retryOn` when `retries` is given without one. */
const DEFAULT_RETRY_ON =
  'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

function retriesOf(spec: HttpSpec['retries']): RetryPolicy | null {
  if (spec === undefined) return null;
  const tokens = (spec.retryOn ?? DEFAULT_RETRY_ON).split(',').map((t) => t.trim());
  const codes = tokens.filter((t) => /^\d+$/.test(t)).map(Number);
  const retryOn = tokens.filter((t) => !/^\d+$/.test(t));
  // Istio: a numeric token means "retry on that status", which Envoy spells retriable-status-codes.
  if (codes.length > 0 && !retryOn.includes('retriable-status-codes'))
    retryOn.push('retriable-status-codes');
  return {
    attempts: spec.attempts,
    perTryTimeoutMs: spec.perTryTimeout ?? 0,
    retryOn,
    retriableStatusCodes: codes,
  };
}

/** A match that every request satisfies (no conditions, or `uri.prefix: /`). */
function matchesEverything(match: HttpMatch): boolean {
  const uriAll = match.uri === null || (match.uri.kind === 'prefix' && match.uri.value === '/');
  return (
    uriAll &&
    match.headers.length === 0 &&
    match.withoutHeaders.length === 0 &&
    match.queryParams.length === 0
  );
}

/** Whether a resolved route catches every request (later routes are unreachable). */
export function isCatchAll(route: HttpRoute): boolean {
  return route.matches.length === 0 || route.matches.some(matchesEverything);
}

/** VirtualServices by host, with issues for every dangling reference. */
export function resolveVirtualServices(
  resources: readonly VirtualServiceResource[],
  services: ReadonlyMap<string, MeshService>,
  policies: ReadonlyMap<string, MeshDestinationPolicy>,
): { virtualServices: Map<string, MeshVirtualService>; issues: LocatedIssue[] } {
  const issues: LocatedIssue[] = [];
  const byHost = new Map<string, MeshVirtualService>();

  for (const vs of resources) {
    const issue = (path: FieldPath, message: string): void => {
      issues.push(resourceIssue(vs, path, message));
    };
    /** Checks a destination (route or mirror) and returns whether it is usable. */
    const checkDestination = (
      base: FieldPath,
      d: { host: string; subset?: string | undefined; port?: { number: number } | undefined },
    ): void => {
      const service = services.get(d.host);
      if (service === undefined) {
        issue([...base, 'host'], `unknown host ${d.host} (no ServiceEntry declares it)`);
        return;
      }
      if (d.port !== undefined && !service.ports.some((p) => p.number === d.port?.number))
        issue([...base, 'port', 'number'], `host ${d.host} has no port ${d.port.number}`);
      if (
        d.subset !== undefined &&
        policies.get(d.host)?.subsets.some((s) => s.name === d.subset) !== true
      )
        issue(
          [...base, 'subset'],
          `unknown subset ${d.subset} of host ${d.host} (no DestinationRule subset has that name)`,
        );
    };

    const http: HttpRoute[] = [];
    let catchAllAt = -1;
    for (const [i, r] of (vs.spec.http ?? []).entries()) {
      const at: FieldPath = ['spec', 'http', i];
      for (const [j, rd] of r.route.entries())
        checkDestination([...at, 'route', j, 'destination'], rd.destination);
      if (r.mirror !== undefined) checkDestination([...at, 'mirror'], r.mirror);
      if (r.mirrorPercentage !== undefined && r.mirror === undefined)
        issue([...at, 'mirrorPercentage'], 'mirrorPercentage needs mirror');
      if (r.route.length > 1) {
        const sum = r.route.reduce((a, rd) => a + (rd.weight ?? 0), 0);
        if (sum !== 100)
          issue(
            [...at, 'route'],
            `weights must sum to 100 when there are several destinations, got ${sum}`,
          );
      }
      const abort = r.fault?.abort;
      const route: HttpRoute = {
        name: r.name ?? '',
        matches: (r.match ?? []).map(matchOf),
        destinations: r.route.map((rd) => ({
          host: rd.destination.host,
          subset: rd.destination.subset ?? '',
          port: rd.destination.port?.number ?? null,
          weight: r.route.length === 1 ? 100 : (rd.weight ?? 0),
        })),
        timeoutMs: r.timeout ?? 0,
        retries: retriesOf(r.retries),
        fault:
          r.fault === undefined
            ? null
            : {
                delay:
                  r.fault.delay === undefined
                    ? null
                    : {
                        percent: r.fault.delay.percentage?.value ?? 100,
                        fixedDelayMs: r.fault.delay.fixedDelay,
                      },
                abort:
                  abort === undefined
                    ? null
                    : abort.grpcStatus !== undefined
                      ? {
                          percent: abort.percentage?.value ?? 100,
                          httpStatus: null,
                          grpcStatus: GRPC_STATUS_CODES[abort.grpcStatus] ?? 2,
                        }
                      : {
                          percent: abort.percentage?.value ?? 100,
                          httpStatus: abort.httpStatus ?? 500,
                          grpcStatus: null,
                        },
              },
        mirror:
          r.mirror === undefined
            ? null
            : {
                host: r.mirror.host,
                subset: r.mirror.subset ?? '',
                port: r.mirror.port?.number ?? null,
                percent: r.mirrorPercentage?.value ?? 100,
              },
        requestHeaders: headerOpsOf(r.headers?.request),
        responseHeaders: headerOpsOf(r.headers?.response),
      };
      if (catchAllAt !== -1)
        issue(at, `unreachable: http[${catchAllAt}] already matches every request`);
      else if (isCatchAll(route)) catchAllAt = i;
      http.push(route);
    }

    for (const [i, host] of vs.spec.hosts.entries()) {
      if (!services.has(host)) {
        issue(['spec', 'hosts', i], `unknown host ${host} (no ServiceEntry declares it)`);
        continue;
      }
      const earlier = byHost.get(host);
      if (earlier !== undefined) {
        issue(['spec', 'hosts', i], `host ${host} already has VirtualService ${earlier.source}`);
        continue;
      }
      byHost.set(host, { hosts: [...vs.spec.hosts], http, source: vs.ref });
    }
  }
  return {
    virtualServices: new Map([...byHost.entries()].sort(([a], [b]) => a.localeCompare(b))),
    issues,
  };
}
