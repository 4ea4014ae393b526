// Decodes one resource of a response with its registered type, never throwing (gRFC A88).
import type { AnyMessage, XdsProtos } from '../protos/xds-protos.js';
import { formatIssues } from '../resource-types/xds-resource-type.js';
import type { XdsResourceType } from '../resource-types/xds-resource-type.js';

/** The envelope some servers wrap SotW resources in (xDS protocol doc, "Resource wrapper"). */
const RESOURCE_WRAPPER_TYPE_URL = 'type.googleapis.com/envoy.service.discovery.v3.Resource';

export type DecodedResource =
  | { readonly ok: true; readonly name: string; readonly value: unknown; readonly raw: AnyMessage }
  | { readonly ok: false; readonly name: string | undefined; readonly message: string };

/** Decodes `raw` as `type`; a wrong type URL or a throwing decoder becomes a rejection. */
export function decodeResource(
  type: XdsResourceType<unknown>,
  raw: AnyMessage,
  protos: XdsProtos,
): DecodedResource {
  let any = raw;
  try {
    if (any.type_url === RESOURCE_WRAPPER_TYPE_URL) {
      const inner = protos.decodeAny(any)['resource'] as AnyMessage | undefined;
      if (inner === undefined)
        return { ok: false, name: undefined, message: 'Resource wrapper without resource' };
      any = inner;
    }
    if (any.type_url !== type.typeUrl) {
      return {
        ok: false,
        name: undefined,
        message: `type_url ${any.type_url} does not match ${type.typeUrl}`,
      };
    }
    const result = type.decode(any, { protos });
    if (result.ok) return { ok: true, name: result.name, value: result.value, raw: any };
    return { ok: false, name: result.name, message: formatIssues(result.issues) };
  } catch (error) {
    // Decoders must not throw; if one does, the resource is rejected, not the stream.
    return { ok: false, name: undefined, message: `decode failed: ${String(error)}` };
  }
}
