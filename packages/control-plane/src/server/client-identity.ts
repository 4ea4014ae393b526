// Who is on a stream: node id, client kind (from node.user_agent_name / client features) and
// locality → ClientView. https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/base.proto#config-core-v3-node
import { structToJson } from '@weft/xds-client';
import {
  CERTIFICATE_PROVIDER_METADATA_KEY,
  type ClientKind,
  type ClientView,
} from '../contracts.js';
import type { InboundWorkload } from '../translate/inbound-policies.js';

/** The `node` of a DiscoveryRequest as proto-loader delivers it (snake_case, all optional). */
export interface NodeMessage {
  readonly id?: string;
  readonly cluster?: string;
  readonly user_agent_name?: string;
  readonly user_agent_version?: string;
  readonly client_features?: readonly string[];
  /** google.protobuf.Struct as proto-loader delivers it. */
  readonly metadata?: unknown;
  readonly locality?: {
    readonly region?: string;
    readonly zone?: string;
    readonly sub_zone?: string;
  };
}

/** What the server knows about a client once its first request arrived. */
export interface ClientIdentity {
  readonly nodeId: string;
  readonly cluster: string;
  readonly userAgent: string;
  readonly view: ClientView;
  /** Namespace (metadata NAMESPACE, default `default`) and labels (metadata LABELS). */
  readonly workload: InboundWorkload;
}

/** The workload's namespace and labels from Istio's node metadata keys. */
export function workloadOf(node: NodeMessage): InboundWorkload {
  let meta: Record<string, unknown> = {};
  try {
    meta = node.metadata === undefined || node.metadata === null ? {} : structToJson(node.metadata);
  } catch {
    meta = {};
  }
  const ns = meta['NAMESPACE'];
  const rawLabels = meta['LABELS'];
  const labels: Record<string, string> = {};
  if (typeof rawLabels === 'object' && rawLabels !== null && !Array.isArray(rawLabels))
    for (const [k, v] of Object.entries(rawLabels)) if (typeof v === 'string') labels[k] = v;
  return { namespace: typeof ns === 'string' && ns !== '' ? ns : 'default', labels };
}

/** `user_agent_name` Weft's own xds-client sends. */
export const WEFT_USER_AGENT_NAME = 'weft-xds-client';

/** The client feature gRPC's xDS clients (all languages) announce; Envoy does not. */
const GRPC_CLIENT_FEATURE = 'envoy.lb.does_not_support_overprovisioning';

/**
 * Classifies a client. grpc-js-xds sends `gRPC Node Pure JS`; other gRPC languages send names
 * starting with `gRPC` too (`gRPC Go`, `gRPC C-core`...). Unknown clients get Envoy's shape, the
 * one every xDS client is written against.
 */
export function classifyClientKind(node: NodeMessage): ClientKind {
  const agent = (node.user_agent_name ?? '').trim().toLowerCase();
  if (agent === WEFT_USER_AGENT_NAME || agent.startsWith('weft')) return 'weft';
  if (agent.startsWith('grpc')) return 'grpc';
  if (agent === 'envoy') return 'envoy';
  if (node.client_features?.includes(GRPC_CLIENT_FEATURE) === true) return 'grpc';
  return 'envoy';
}

/** The certificate-provider instance a gRPC client names in its node metadata, if any. */
function certificateProviderOf(node: NodeMessage): string | undefined {
  if (node.metadata === undefined || node.metadata === null) return undefined;
  try {
    const value = structToJson(node.metadata)[CERTIFICATE_PROVIDER_METADATA_KEY];
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Identity of a client from the `node` of its first request (an absent node gives empty fields). */
export function identifyClient(node: NodeMessage | undefined): ClientIdentity {
  const n = node ?? {};
  const kind = classifyClientKind(n);
  const provider = kind === 'grpc' ? certificateProviderOf(n) : undefined;
  return {
    nodeId: n.id ?? '',
    cluster: n.cluster ?? '',
    userAgent: [n.user_agent_name, n.user_agent_version]
      .filter((s) => s !== undefined && s !== '')
      .join('/'),
    workload: workloadOf(n),
    view: {
      kind,
      locality: {
        region: n.locality?.region ?? '',
        zone: n.locality?.zone ?? '',
        subZone: n.locality?.sub_zone ?? '',
      },
      ...(provider === undefined ? {} : { certificateProvider: provider }),
    },
  };
}
