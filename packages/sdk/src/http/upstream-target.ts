// Turns a request's origin (`http://inventory:8080`) into the authority that names an xDS Listener,
// once per distinct origin. DESIGN.md "The request path", step 1.
import { isIP } from 'node:net';
import { WeftError } from '@weft/xds-client';

/** What the dispatcher needs to know about one origin; shared by every request to it. */
export interface UpstreamTarget {
  /** `inventory` or `inventory:8080`, lower case: the Listener name and the Host header sent. */
  readonly authority: string;
  /** Headers for a request that has none: just the Host header (frozen, shared). */
  readonly hostOnlyHeaders: Readonly<Record<string, string>>;
  /**
   * The `servername` undici derives from a `Host: authority` header (the host part, for SNI),
   * computed once here so that undici skips deriving it per request (an IPv6 regex test);
   * undefined for IP literals, where undici's answer is "none" and it must keep deriving it.
   */
  readonly serverName: string | undefined;
}

/** Bound on remembered origins, so a caller that varies origins cannot grow memory without end. */
const MAX_CACHED_ORIGINS = 1024;
const HTTP_ORIGIN = /^http:\/\/([^/?#@]+)\/?$/i;

/** Memoizes origin → UpstreamTarget (or the WeftError that origin gets). */
export class UpstreamTargets {
  private readonly cache = new Map<string, UpstreamTarget | WeftError>();
  // Most callers send to one origin over and over: a string compare beats hashing a fresh string.
  // Valid forever: an origin always resolves to the same answer.
  private lastKey: string | undefined = undefined;
  private lastTarget: UpstreamTarget | WeftError | undefined = undefined;

  /** Hot path: a string compare for the last origin, else one Map lookup for a known one. */
  resolve(origin: string | URL | undefined): UpstreamTarget | WeftError {
    const key = typeof origin === 'string' ? origin : origin === undefined ? '' : origin.href;
    if (key === this.lastKey && this.lastTarget !== undefined) return this.lastTarget;
    const target = this.cache.get(key) ?? this.parse(key, origin);
    this.lastKey = key;
    this.lastTarget = target;
    return target;
  }

  private parse(key: string, origin: string | URL | undefined): UpstreamTarget | WeftError {
    const target = parseOrigin(origin);
    if (this.cache.size >= MAX_CACHED_ORIGINS) this.cache.clear();
    this.cache.set(key, target);
    return target;
  }
}

function parseOrigin(origin: string | URL | undefined): UpstreamTarget | WeftError {
  if (origin === undefined) {
    return new WeftError('WEFT_NO_ROUTE', 'mesh dispatcher: the request has no origin to route by');
  }
  let authority: string | undefined;
  if (typeof origin === 'string') {
    authority = HTTP_ORIGIN.exec(origin)?.[1];
  } else if (origin.protocol === 'http:') {
    authority = origin.host;
  }
  if (authority === undefined) {
    const text = typeof origin === 'string' ? origin : origin.href;
    return new WeftError(
      'WEFT_UNSUPPORTED',
      `mesh dispatcher: origin ${JSON.stringify(text)} is not routed by the mesh: use http://SERVICE[:PORT] ` +
        '(the mesh applies TLS itself from the cluster config)',
    );
  }
  authority = authority.toLowerCase();
  return Object.freeze({
    authority,
    hostOnlyHeaders: Object.freeze({ host: authority }),
    serverName: serverNameOf(authority),
  });
}

/** undici's getServerName (lib/core/util.js): the host without port; IP literals have none. */
function serverNameOf(authority: string): string | undefined {
  let host: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    host = end === -1 ? authority : authority.slice(1, end);
  } else {
    const colon = authority.indexOf(':');
    host = colon === -1 ? authority : authority.slice(0, colon);
  }
  return host === '' || isIP(host) !== 0 ? undefined : host;
}
