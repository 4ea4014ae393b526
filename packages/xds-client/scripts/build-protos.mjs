// Build step: compiles the Envoy/xDS/udpa protos shipped in @grpc/grpc-js-xds (its deps/
// folder), plus Weft's own protos/ (the workload registry), into one protobufjs JSON descriptor,
// dist/xds-protos.json, which the package loads at run time. The Envoy protos are never copied
// into the repository.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const depsDir = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const includeDirs = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(depsDir, d)),
  // google/protobuf/*.proto (descriptor.proto among them) ship with protobufjs.
  dirname(require.resolve('protobufjs/package.json')),
  // Weft's own protos (weft/registry/v1/registry.proto).
  join(dirname(fileURLToPath(import.meta.url)), '..', 'protos'),
];

/** Every proto whose messages Weft encodes or decodes; their imports come along. */
const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
  'envoy/extensions/load_balancing_policies/pick_first/v3/pick_first.proto',
  'udpa/type/v1/typed_struct.proto',
  'xds/type/v3/typed_struct.proto',
  'google/rpc/status.proto',
  'weft/registry/v1/registry.proto',
  'weft/ca/v1/ca.proto',
];

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => {
  for (const dir of includeDirs) {
    const candidate = join(dir, target);
    try {
      require('node:fs').accessSync(candidate);
      return candidate;
    } catch {
      // try the next include dir
    }
  }
  return target; // protobufjs falls back to its bundled google/protobuf/* definitions
};
root.loadSync(PROTO_FILES, { keepCase: true });
root.resolveAll();

// protobufjs serves google/protobuf/* from its bundled definitions, whose google.protobuf.Value
// fields are camelCase (stringValue…); every other message here keeps the .proto's snake_case.
// Rename them so Struct values (node metadata, filter_metadata) encode with one naming.
const json = root.toJSON({ keepComments: false });
const value = json.nested.google.nested.protobuf.nested.Value;
const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
value.fields = Object.fromEntries(Object.entries(value.fields).map(([k, v]) => [snake(k), v]));
for (const oneof of Object.values(value.oneofs ?? {})) oneof.oneof = oneof.oneof.map(snake);
const listValue = json.nested.google.nested.protobuf.nested.ListValue;
if (listValue === undefined || value.fields.string_value === undefined) throw new Error('unexpected Struct shape');

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'xds-protos.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(json));
console.log(`xds-client: wrote ${out}`);
