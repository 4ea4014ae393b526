// The error the SDK core returns when a request cannot be routed or placed: a WeftError that also
// names the layer that refused it (STYLE rules 4, 18 and 20). DESIGN.md "The request path".
import { WeftError } from '@weft/xds-client';
import type { WeftErrorCode } from '@weft/xds-client';

/** The layer of the request path that refused a request, outermost first. */
export type MeshLayer = 'listener' | 'route-config' | 'virtual-host' | 'route' | 'cluster';

/**
 * A WeftError with the refusing `layer`. Subclassed only to add that field (STYLE rule 18);
 * `instanceof WeftError` holds, and `code` stays the one callers switch on.
 */
export class RoutingError extends WeftError {
  readonly layer: MeshLayer;

  constructor(
    code: WeftErrorCode,
    layer: MeshLayer,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'RoutingError';
    this.layer = layer;
  }
}
