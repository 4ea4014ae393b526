// A grpc-js-xds XdsServer in its own process (GRPC_XDS_EXPERIMENTAL_RBAC must be set before the
// package loads): serves the echo service on 127.0.0.1:PORT with the inbound Listener a Weft
// control plane sends for node namespace NS. Prints `bound` once bindAsync succeeded.
// argv: XDS_PORT PORT NAMESPACE
import { ServerCredentials } from '@grpc/grpc-js';

process.env['GRPC_XDS_EXPERIMENTAL_RBAC'] = 'true';
const [xdsPort, port, namespace] = process.argv.slice(2);
const { XdsServer, register } = await import('@grpc/grpc-js-xds');
// Registers the HTTP filters (router, RBAC) the server validates its Listener against.
register();
const { ECHO_SERVICE } = await import('@weft/example-demo/echo-service');

const bootstrap = {
  xds_servers: [
    {
      server_uri: `127.0.0.1:${xdsPort}`,
      channel_creds: [{ type: 'insecure' }],
      server_features: ['xds_v3'],
    },
  ],
  node: { id: `grpc-xds-server-${namespace}`, locality: {}, metadata: { NAMESPACE: namespace } },
  server_listener_resource_name_template: 'grpc/server?xds.resource.listening_address=%s',
};
const server = new XdsServer({
  'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
});
server.addService(ECHO_SERVICE, {
  Call: (_call: unknown, cb: (err: null, res: { message: string; backend: string }) => void) => {
    cb(null, { message: 'hi', backend: 'xds-server' });
  },
});
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) => {
  process.stdout.write(err ? `error ${err.message}\n` : 'bound\n');
});
process.stdin.resume();
process.stdin.on('end', () => {
  server.forceShutdown();
  process.exit(0);
});
