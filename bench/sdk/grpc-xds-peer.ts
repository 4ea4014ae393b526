// Child process of request-path.bench: gRPC's own proxyless client (@grpc/grpc-js-xds) against the
// same control plane and backend, beside plain grpc-js in the same process. It runs alone in its
// process because grpc-js-xds registers the `xds` scheme globally. Prints one JSON line.
import { credentials } from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { EchoClient } from '@weft/example-demo/echo-service';
import { echoCall } from './grpc-call.js';
import { measure } from './latency.js';

const [backendPort, target, options] = [
  process.argv[2],
  process.argv[3],
  JSON.parse(process.argv[4] ?? '{}'),
];
grpcXds.register(); // reads GRPC_XDS_BOOTSTRAP_CONFIG from the environment
const plain = new EchoClient(`127.0.0.1:${backendPort}`, credentials.createInsecure());
const viaXds = new EchoClient(target!, credentials.createInsecure());
const results = await measure(
  [
    { name: 'plain grpc-js (peer process)', call: () => echoCall(plain) },
    { name: '@grpc/grpc-js-xds xds:///', call: () => echoCall(viaXds) },
  ],
  options,
);
process.stdout.write(JSON.stringify(results) + '\n');
plain.close();
viaXds.close();
process.exit(0);
