// Loads the Envoy/xDS protos compiled at build time (scripts/build-protos.mjs, from the deps/ of
// @grpc/grpc-js-xds) and offers Any encoding/decoding on top of them.
import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import type {
  GrpcObject,
  MethodDefinition,
  ServiceClientConstructor,
  ServiceDefinition,
} from '@grpc/grpc-js';
import { loadPackageDefinition, makeClientConstructor } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { messageNameOf } from './type-urls.js';

function lowerCamelCase(name: string): string {
  // proto-loader's `originalName`: lodash.camelcase of the method name.
  return (
    name.charAt(0).toLowerCase() +
    name.slice(1).replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())
  );
}

/** proto-loader's service definition for one service, minus the reflection-only message definitions. */
function serviceDefinitionOf(service: protobuf.Service, fullName: string): ServiceDefinition {
  service.resolveAll();
  const def: Record<string, MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    const request = method.resolvedRequestType;
    const response = method.resolvedResponseType;
    if (request === null || response === null)
      throw new Error(`proto service ${fullName}: method ${method.name} has unresolved types`);
    def[method.name] = {
      path: `/${fullName}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializerOf(request),
      requestDeserialize: deserializerOf(request),
      responseSerialize: serializerOf(response),
      responseDeserialize: deserializerOf(response),
      originalName: lowerCamelCase(method.name),
    };
  }
  return def;
}

function serializerOf(type: protobuf.Type): (value: object) => Buffer {
  return function serialize(value) {
    if (Array.isArray(value))
      throw new Error(
        `Failed to serialize message: expected object with ${type.name} structure, got array instead`,
      );
    // protobufjs writes into a Buffer under Node (as proto-loader relies on): no copy.
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializerOf(type: protobuf.Type): (bytes: Buffer) => object {
  return function deserialize(bytes) {
    return type.toObject(type.decode(bytes), PROTO_OBJECT_OPTIONS);
  };
}

/** A google.protobuf.Any as it travels on the wire (proto-loader shape, keepCase). */
export interface AnyMessage {
  readonly type_url: string;
  readonly value: Buffer | Uint8Array;
}

/**
 * Options for turning protobuf messages into plain objects: snake_case field names as in the
 * .proto files, 64-bit ints and enums as strings, oneofs named, Any left as {type_url, value}.
 */
export const PROTO_OBJECT_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  bytes: Buffer,
}) satisfies protoLoader.Options;

/** The loaded proto registry: message types for Any payloads plus gRPC service definitions. */
export class XdsProtos {
  readonly root: protobuf.Root;
  readonly #json: protobuf.INamespace;
  #packageDefinition: protoLoader.PackageDefinition | undefined;
  #grpcObject: GrpcObject | undefined;
  private readonly typeCache = new Map<string, protobuf.Type>();
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly clients = new Map<string, ServiceClientConstructor>();

  constructor(json: protobuf.INamespace) {
    this.#json = json;
    this.root = protobuf.Root.fromJSON(json);
  }

  /**
   * Every type and service as @grpc/proto-loader defines them (message definitions carry file
   * descriptors, for reflection-style tooling). Built on first use: it costs ~200 ms, and
   * `service()` / `serviceClient()` do not need it.
   */
  get packageDefinition(): protoLoader.PackageDefinition {
    this.#packageDefinition ??= protoLoader.fromJSON(this.#json, PROTO_OBJECT_OPTIONS);
    return this.#packageDefinition;
  }

  /** `grpc.loadPackageDefinition(packageDefinition)`; built on first use. */
  get grpcObject(): GrpcObject {
    this.#grpcObject ??= loadPackageDefinition(this.packageDefinition);
    return this.#grpcObject;
  }

  /** The message type for a fully qualified name or type URL; throws if it is not loaded. */
  type(nameOrTypeUrl: string): protobuf.Type {
    const name = messageNameOf(nameOrTypeUrl);
    let type = this.typeCache.get(name);
    if (type === undefined) {
      type = this.root.lookupType(name);
      this.typeCache.set(name, type);
    }
    return type;
  }

  /** Whether a message type is known (an Any with an unknown type URL cannot be decoded). */
  hasType(nameOrTypeUrl: string): boolean {
    try {
      this.type(nameOrTypeUrl);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * gRPC service definition by fully qualified name, e.g.
   * `envoy.service.discovery.v3.AggregatedDiscoveryService`: what proto-loader would give for its
   * methods (path, streaming flags, (de)serializers with {@link PROTO_OBJECT_OPTIONS}, original
   * name), built from `root` alone.
   */
  service(fullName: string): ServiceDefinition {
    let def = this.services.get(fullName);
    if (def === undefined) {
      let service: protobuf.Service;
      try {
        service = this.root.lookupService(fullName);
      } catch {
        throw new Error(`proto service ${fullName} is not loaded`);
      }
      def = serviceDefinitionOf(service, fullName);
      this.services.set(fullName, def);
    }
    return def;
  }

  /** A gRPC client constructor for a service, for tests, tooling and the xDS client. */
  serviceClient(fullName: string): ServiceClientConstructor {
    let ctor = this.clients.get(fullName);
    if (ctor === undefined) {
      const serviceName = fullName.slice(fullName.lastIndexOf('.') + 1);
      // Same as grpc.loadPackageDefinition does per service.
      ctor = makeClientConstructor(this.service(fullName), serviceName, {});
      this.clients.set(fullName, ctor);
    }
    return ctor;
  }

  /** Encodes a plain object (snake_case fields) as an Any of the given type URL; throws on a bad shape. */
  encodeAny(typeUrl: string, value: Record<string, unknown>): AnyMessage {
    const type = this.type(typeUrl);
    const message = type.fromObject(this.expandAnys(value, type));
    return { type_url: typeUrl, value: Buffer.from(type.encode(message).finish()) };
  }

  /** Decodes an Any's payload into a plain object; nested Anys stay {type_url, value} for the caller. */
  decodeAny(any: AnyMessage): Record<string, unknown> {
    const type = this.type(any.type_url);
    const message = type.decode(any.value instanceof Buffer ? any.value : Buffer.from(any.value));
    return type.toObject(message, PROTO_OBJECT_OPTIONS);
  }

  /** Decodes a message of a named type from bytes into a plain object. */
  decodeMessage(nameOrTypeUrl: string, bytes: Uint8Array): Record<string, unknown> {
    const type = this.type(nameOrTypeUrl);
    return type.toObject(type.decode(bytes), PROTO_OBJECT_OPTIONS);
  }

  /**
   * Lets callers write a nested Any as `{ '@type': TYPE_URL, ...fields }` (protobuf JSON style):
   * such objects are encoded here, so resource builders need not encode inner messages by hand.
   */
  private expandAnys(value: unknown, type: protobuf.Type): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, fieldValue] of Object.entries(value as Record<string, unknown>)) {
      const field = type.fields[key];
      if (field === undefined || fieldValue === undefined || fieldValue === null) {
        out[key] = fieldValue;
        continue;
      }
      field.resolve();
      const fieldType = field.resolvedType;
      if (!(fieldType instanceof protobuf.Type)) {
        out[key] = fieldValue;
        continue;
      }
      const convert = (v: unknown): unknown => {
        if (fieldType.fullName === '.google.protobuf.Any') return this.anyField(v);
        return typeof v === 'object' && v !== null && !(v instanceof Uint8Array)
          ? this.expandAnys(v, fieldType)
          : v;
      };
      if (field.repeated && Array.isArray(fieldValue)) out[key] = fieldValue.map(convert);
      else if (field.map && typeof fieldValue === 'object') {
        out[key] = Object.fromEntries(Object.entries(fieldValue).map(([k, v]) => [k, convert(v)]));
      } else out[key] = convert(fieldValue);
    }
    return out;
  }

  private anyField(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const record = v as Record<string, unknown>;
    const typeUrl = record['@type'];
    if (typeof typeUrl !== 'string') return v;
    const { '@type': _ignored, ...fields } = record;
    return this.encodeAny(typeUrl, fields);
  }
}

let cached: XdsProtos | undefined;

/**
 * The shared, immutable proto registry, parsed once per process on first use (not at import).
 * Protos are pure data, so sharing them does not break the no-singletons rule for stateful parts.
 */
export function loadXdsProtos(): XdsProtos {
  if (cached === undefined) {
    const url = new URL('../../xds-protos.json', import.meta.url);
    cached = new XdsProtos(JSON.parse(readFileSync(url, 'utf8')) as protobuf.INamespace);
  }
  return cached;
}
