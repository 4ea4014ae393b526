// Turns a request's origin (`http://inventory:8080`) into the authority that names an xDS Listener,
// once per distinct origin. DESIGN.md "The request path", step 1.
import { WeftError } from '@weft/xds-client';

/** What the dispatcher needs to know about one origin; shared by every request to it. */
export interface UpstreamTarget {
  /** `inventory` or `inventory:8080`, lower case: the Listener name and the Host header sent. */
  readonly authority: string;
  /** Headers for a request that has none: just the Host header (frozen, shared). */
  readonly hostOnlyHeaders: Readonly<Record<string, string>>;
}

/** Bound on remembered origins, so a caller that varies origins cannot grow memory without end. */
const MAX_CACHED_ORIGINS = 1024;
const HTTP_ORIGIN = /^http:\/\/([^/?#@]+)\/?$/i;

/** Memoizes origin → UpstreamTarget (or the WeftError that origin gets). */
export class UpstreamTargets {
  private readonly cache = new Map<string, UpstreamTarget | WeftError>();

  /** Hot path: one Map lookup for a known origin. */
  resolve(origin: string | URL | undefined): UpstreamTarget | WeftError {
    const key = typeof origin === 'string' ? origin : origin === undefined ? '' : origin.href;
    const known = this.cache.get(key);
    if (known !== undefined) return known;
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
  return Object.freeze({ authority, hostOnlyHeaders: Object.freeze({ host: authority }) });
}
