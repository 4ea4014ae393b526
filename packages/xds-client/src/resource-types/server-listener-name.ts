// Names of server-side (inbound) Listeners, gRPC's default template
// `grpc/server?xds.resource.listening_address=%s` with `%s` = `IP:PORT` ([IPv6]:PORT).
// Spec: gRFC A36 (xDS-enabled servers), "Listener resource name".

/** gRPC's default `server_listener_resource_name_template` prefix. */
export const SERVER_LISTENER_NAME_PREFIX = 'grpc/server?xds.resource.listening_address=' as const;

/** The inbound Listener name of a server bound to `address:port`. */
export function serverListenerName(address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `${SERVER_LISTENER_NAME_PREFIX}${host}:${port}`;
}

/** The address and port in an inbound Listener name, or undefined for any other name. */
export function parseServerListenerName(
  name: string,
): { readonly address: string; readonly port: number } | undefined {
  if (!name.startsWith(SERVER_LISTENER_NAME_PREFIX)) return undefined;
  const rest = name.slice(SERVER_LISTENER_NAME_PREFIX.length);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(rest);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { address: m[1] ?? m[2] ?? '', port };
}
