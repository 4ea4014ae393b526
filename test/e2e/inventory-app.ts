// A child process for the locality-failover test: an "inventory" workload that joins the mesh
// with createMesh, serves HTTP through mesh.serve and gRPC (registered with mesh.register), and
// answers with its own name. argv: CONTROL_PLANE NAME REGION ZONE. It prints
// {"event":"serving",...} once registered, and on SIGTERM leaves the mesh gracefully
// (deregister, drain, close) and exits 0. The HTTP answer also names the locality (region, zone).
// With INVENTORY_HTTP_503_RATIO=0.5 in the environment (the chaos test's misbehaving instance),
// that share of HTTP requests, at random, gets a 503 instead.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { createMesh } from '@weft/sdk';
import { ECHO_SERVICE, type EchoRequest, type EchoResponse } from '@weft/example-demo/echo-service';

const [controlPlane, name, region, zone] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const failRatio = Number(process.env['INVENTORY_HTTP_503_RATIO'] ?? '0');
if (!(failRatio >= 0 && failRatio <= 1)) {
  throw new Error(`INVENTORY_HTTP_503_RATIO: expected a number in [0, 1], got ${failRatio}`);
}
const mesh = await createMesh({
  controlPlane,
  node: { id: name, locality: { region, zone } },
  workload: { name: 'inventory', namespace: 'default', serviceAccount: 'inventory' },
});
await mesh.ready();

const http = await mesh.serve(
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    if (failRatio > 0 && Math.random() < failRatio) {
      res.statusCode = 503;
      res.end(JSON.stringify({ backend: name, region, zone, error: 'injected 503' }));
      return;
    }
    res.end(JSON.stringify({ backend: name, region, zone }));
  },
  { service: 'inventory', port: 0, servicePort: 8080, labels: { app: 'inventory' }, drainMs: 500 },
);

const grpc = new Server();
grpc.addService(ECHO_SERVICE, {
  Call: (
    call: ServerUnaryCall<EchoRequest, EchoResponse>,
    callback: sendUnaryData<EchoResponse>,
  ) => {
    callback(null, { backend: name, message: call.request.message });
  },
});
const grpcPort = await new Promise<number>((resolve, reject) => {
  grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) =>
    err ? reject(err) : resolve(port),
  );
});
const grpcRegistration = await mesh.register({
  service: 'inventory',
  port: grpcPort,
  protocol: 'grpc',
  servicePort: 9090,
  labels: { app: 'inventory' },
});
process.stdout.write(
  JSON.stringify({ event: 'serving', name, httpPort: http.port, grpcPort }) + '\n',
);

process.once('SIGTERM', () => {
  void (async () => {
    // Leave EDS first, keep serving while clients move away, then stop.
    await grpcRegistration.close();
    await http.close(); // deregisters (already), drains 500 ms, closes
    await new Promise<void>((resolve) => {
      grpc.tryShutdown(() => {
        resolve();
      });
    });
    await mesh.close();
    process.exit(0);
  })();
});
