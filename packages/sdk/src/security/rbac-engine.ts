// Evaluates the RBAC http filters of an inbound filter chain for one request, Envoy's way: the
// filters run in order (Weft's control plane emits DENY, ALLOW, then LOG for Istio's AUDIT);
// DENY denies on any match, ALLOW denies when nothing matches, LOG only records.
// Spec: gRFC A41; envoy/config/rbac/v3/rbac.proto; Istio authorization policy semantics.
import type {
  HttpFilterUpdate,
  RbacPermissionUpdate,
  RbacPrincipalUpdate,
  RbacUpdate,
} from '@weft/xds-client';
import { compileHeaderMatcher, compileStringMatch } from '../routing/string-matcher.js';

/** What RBAC sees of one request. */
export interface RbacRequest {
  /** Upper-case HTTP method (gRPC: POST). */
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** Lower-case header lookup (`:method`, `:path`, `:authority` included); multiple values joined by `,`. */
  readonly header: (lowerCaseName: string) => string | undefined;
  /** The server's local port. */
  readonly destinationPort: number;
  /** The peer certificate's URI SAN (SPIFFE id) on mTLS connections; undefined on plaintext. */
  readonly principal: string | undefined;
}

/** The verdict of one request. */
export interface RbacDecision {
  readonly allowed: boolean;
  /** `DENY` / `ALLOW` of the filter that decided; `''` when no RBAC filter applies (allowed). */
  readonly action: 'DENY' | 'ALLOW' | '';
  /**
   * The RBAC policy that decided (`ns[NS]-policy[NAME]-rule[I]`): the matching DENY policy, or
   * the matching ALLOW policy; `''` when denied because no ALLOW policy matched, or no filter.
   */
  readonly policy: string;
  /** Names of the AUDIT (LOG) policies that matched. */
  readonly audited: readonly string[];
}

type Predicate = (r: RbacRequest) => boolean;

function permission(p: RbacPermissionUpdate): Predicate {
  switch (p.kind) {
    case 'any':
      return () => true;
    case 'and': {
      const all = p.rules.map(permission);
      return (r) => all.every((f) => f(r));
    }
    case 'or': {
      const any = p.rules.map(permission);
      return (r) => any.some((f) => f(r));
    }
    case 'not': {
      const inner = permission(p.rule);
      return (r) => !inner(r);
    }
    case 'header': {
      const m = compileHeaderMatcher(p.header);
      return (r) => m.test(r.header);
    }
    case 'urlPath': {
      const m = compileStringMatch(p.path);
      return (r) => m(r.path);
    }
    case 'destinationPort': {
      const port = p.port;
      return (r) => r.destinationPort === port;
    }
  }
}

function principal(p: RbacPrincipalUpdate): Predicate {
  switch (p.kind) {
    case 'any':
      return () => true;
    case 'and': {
      const all = p.ids.map(principal);
      return (r) => all.every((f) => f(r));
    }
    case 'or': {
      const any = p.ids.map(principal);
      return (r) => any.some((f) => f(r));
    }
    case 'not': {
      const inner = principal(p.id);
      return (r) => !inner(r);
    }
    case 'authenticated': {
      if (p.principalName === undefined) return (r) => r.principal !== undefined;
      const m = compileStringMatch(p.principalName);
      return (r) => r.principal !== undefined && m(r.principal);
    }
    case 'header': {
      const m = compileHeaderMatcher(p.header);
      return (r) => m.test(r.header);
    }
  }
}

interface CompiledPolicy {
  readonly name: string;
  readonly matches: Predicate;
}

interface CompiledFilter {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  readonly policies: readonly CompiledPolicy[];
}

function compileRbac(rbac: RbacUpdate): CompiledFilter | undefined {
  if (rbac.rules === undefined) return undefined;
  return {
    action: rbac.rules.action,
    policies: rbac.rules.policies.map((pol) => {
      const perms = pol.permissions.map(permission);
      const ids = pol.principals.map(principal);
      return {
        name: pol.name,
        matches: (r: RbacRequest) => perms.some((f) => f(r)) && ids.some((f) => f(r)),
      };
    }),
  };
}

const ALLOW_ALL: RbacDecision = Object.freeze({
  allowed: true,
  action: '',
  policy: '',
  audited: Object.freeze([]),
});

/** The RBAC filters of one filter chain, compiled once per listener update. */
export class RbacEngine {
  readonly #filters: readonly CompiledFilter[];

  /** Compiles the chain's RBAC filters (other filters are ignored: the router, fault...). */
  constructor(httpFilters: readonly HttpFilterUpdate[]) {
    const filters: CompiledFilter[] = [];
    for (const f of httpFilters) {
      if (f.config?.kind !== 'rbac') continue;
      const compiled = compileRbac(f.config.rbac);
      if (compiled !== undefined) filters.push(compiled);
    }
    this.#filters = filters;
  }

  /** Whether any filter enforces or audits anything. */
  get empty(): boolean {
    return this.#filters.length === 0;
  }

  /** Runs every filter in order; the first denial stops evaluation (as in Envoy). */
  evaluate(request: RbacRequest): RbacDecision {
    if (this.#filters.length === 0) return ALLOW_ALL;
    const audited: string[] = [];
    let allowedBy: { action: 'ALLOW'; policy: string } | undefined = undefined;
    for (const f of this.#filters) {
      const hit = f.policies.find((p) => p.matches(request));
      if (f.action === 'LOG') {
        for (const p of f.policies) if (p.matches(request)) audited.push(p.name);
        continue;
      }
      if (f.action === 'DENY') {
        if (hit !== undefined) return { allowed: false, action: 'DENY', policy: hit.name, audited };
        continue;
      }
      if (hit === undefined) return { allowed: false, action: 'ALLOW', policy: '', audited };
      allowedBy = { action: 'ALLOW', policy: hit.name };
    }
    return {
      allowed: true,
      action: allowedBy?.action ?? '',
      policy: allowedBy?.policy ?? '',
      audited,
    };
  }
}

/** `ns[shop]-policy[deny-admin]-rule[0]` → `shop/deny-admin rule 0`; other names unchanged. */
export function describeRbacPolicy(name: string): string {
  const m = /^ns\[([^\]]*)\]-policy\[([^\]]*)\]-rule\[(\d+)\]$/.exec(name);
  return m === null ? name : `${m[1] ?? ''}/${m[2] ?? ''} rule ${m[3] ?? ''}`;
}
