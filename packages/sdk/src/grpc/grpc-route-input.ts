// Builds the RouteInput of one gRPC call from its method path and metadata, with gRFC A28's
// header rules: `-bin` metadata never matches, `content-type` reads `application/grpc`, and the
// pseudo-headers `:path`, `:authority` and `:method` are those of the HTTP/2 request.
// https://github.com/grpc/proposal/blob/master/A28-xds-traffic-splitting-and-routing.md
import type { Metadata } from '@grpc/grpc-js';
import type { RouteInput } from '../runtime/mesh-runtime.js';

/** The routing view of a call to `method` (`/pkg.Service/Method`) on `authority`. */
export function createGrpcRouteInput(
  authority: string,
  method: string,
  metadata: Metadata,
): RouteInput {
  return {
    authority,
    path: method,
    header: function grpcHeader(name: string): string | undefined {
      switch (name) {
        case ':path':
          return method;
        case ':authority':
        case 'host':
          return authority;
        case ':method':
          return 'POST';
        case 'content-type':
          return 'application/grpc';
        default:
          break;
      }
      if (name.endsWith('-bin')) return undefined;
      const values = metadata.get(name);
      if (values.length === 0) return undefined;
      if (values.length === 1 && typeof values[0] === 'string') return values[0];
      const strings: string[] = [];
      for (const value of values) if (typeof value === 'string') strings.push(value);
      return strings.length === 0 ? undefined : strings.join(',');
    },
  };
}
