// Chooses a virtual host by the request's authority with Envoy's domain rules: exact, then the
// longest `*suffix`, then the longest `prefix*`, then `*`. Spec: envoy/config/route/v3/
// route_components.proto VirtualHost.domains; gRFC A28 (gRPC matches the target's authority).

interface Wildcard<T> {
  readonly part: string;
  readonly value: T;
}

/** `host:port` → `host`; `[v6]:port` → `[v6]`; anything without a trailing port → undefined. */
export function stripPort(authority: string): string | undefined {
  const colon = authority.lastIndexOf(':');
  if (colon <= 0 || colon === authority.length - 1) return undefined;
  if (authority.includes(':') && authority.indexOf(':') !== colon && !authority.startsWith('['))
    return undefined; // a bare IPv6 literal has no port
  for (let i = colon + 1; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return authority.slice(0, colon);
}

/**
 * An immutable index of virtual-host domains. Within each class, an authority is tried as given
 * and then without its port (gRPC targets and Host headers carry ports that domains may omit);
 * among equal matches the virtual host listed first wins (Envoy rejects duplicates; we keep order).
 */
export class DomainIndex<T> {
  private readonly exact = new Map<string, T>();
  private readonly suffixes: Wildcard<T>[] = [];
  private readonly prefixes: Wildcard<T>[] = [];
  private star: T | undefined;

  constructor(entries: readonly { readonly domains: readonly string[]; readonly value: T }[]) {
    for (const { domains, value } of entries) {
      for (const raw of domains) {
        const domain = raw.toLowerCase();
        if (domain === '*') this.star ??= value;
        else if (domain.startsWith('*')) this.suffixes.push({ part: domain.slice(1), value });
        else if (domain.endsWith('*')) this.prefixes.push({ part: domain.slice(0, -1), value });
        else if (!this.exact.has(domain)) this.exact.set(domain, value);
      }
    }
    // Stable sorts: longest first, config order among equals.
    this.suffixes.sort((a, b) => b.part.length - a.part.length);
    this.prefixes.sort((a, b) => b.part.length - a.part.length);
  }

  /** The virtual host for `authority` (any case), or undefined when no domain matches. */
  select(authority: string): T | undefined {
    const full = authority.toLowerCase();
    const bare = stripPort(full);
    const exact = this.exact.get(full) ?? (bare === undefined ? undefined : this.exact.get(bare));
    if (exact !== undefined) return exact;
    // A wildcard stands for at least one character (Envoy).
    const suffix =
      this.suffixes.find((w) => full.length > w.part.length && full.endsWith(w.part)) ??
      (bare === undefined
        ? undefined
        : this.suffixes.find((w) => bare.length > w.part.length && bare.endsWith(w.part)));
    if (suffix !== undefined) return suffix.value;
    const prefix =
      this.prefixes.find((w) => full.length > w.part.length && full.startsWith(w.part)) ??
      (bare === undefined
        ? undefined
        : this.prefixes.find((w) => bare.length > w.part.length && bare.startsWith(w.part)));
    if (prefix !== undefined) return prefix.value;
    return this.star;
  }
}
