// The Registry gRPC service inside startControlPlane, over real loopback gRPC with fake time:
// registrations reach EDS, a closed stream leaves at once, a quiet lease expires after the TTL
// (heartbeats keep it), invalid registrations are rejected by field; /registry and metrics.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  credentials,
  type ClientDuplexStream,
  type ServiceClientConstructor,
  type StatusObject,
} from '@grpc/grpc-js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, loadXdsProtos } from '@weft/xds-client';
import { startControlPlane, type ControlPlane } from '../../src/control-plane.js';
import type { EndpointDeregisteredEvent } from '../../src/registry/registered-endpoint.js';
import { REGISTRY_SERVICE_NAME } from '../../src/registry/registry-service.js';
import { AdsProbe, decodeAll, WEFT_NODE, type Message } from '../helpers/ads-probe.js';
import { makeConfigDir, removeDir } from '../helpers/config-dir.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { INVENTORY_YAML, registerMessage } from './registry-fixtures.js';

const TTL_MS = 1500;
const CLUSTER = 'outbound|8080|v2|inventory';

/** One raw Register stream: queued responses and the final status. */
class RegistryStream {
  readonly #client: InstanceType<ServiceClientConstructor>;
  readonly #call: ClientDuplexStream<Message, Message>;
  readonly #queue: Message[] = [];
  #waiter: ((m: Message) => void) | undefined;
  readonly status: Promise<StatusObject>;

  constructor(port: number) {
    const Ctor = loadXdsProtos().serviceClient(REGISTRY_SERVICE_NAME);
    this.#client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
    this.#call = this.#client.Register!() as ClientDuplexStream<Message, Message>;
    this.#call.on('data', (m: Message) => {
      const w = this.#waiter;
      this.#waiter = undefined;
      if (w !== undefined) w(m);
      else this.#queue.push(m);
    });
    this.#call.on('error', () => undefined);
    this.status = new Promise((resolve) => this.#call.on('status', resolve));
  }

  send(message: Message): void {
    this.#call.write(message);
  }

  async next(): Promise<Message> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return queued;
    return await new Promise((resolve) => (this.#waiter = resolve));
  }

  end(): void {
    this.#call.end();
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** `address:port` of every endpoint of an EDS response's ClusterLoadAssignment. */
function endpointsOf(response: Message): string[] {
  return decodeAll(response)
    .flatMap((cla) => (cla.endpoints ?? []) as Message[])
    .flatMap((l) => (l.lb_endpoints ?? []) as Message[])
    .map(
      (e) =>
        `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`,
    )
    .sort();
}

async function getJson(port: number, path: string): Promise<Message> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Message;
}

describe('Registry service (startControlPlane)', () => {
  let dir: string;
  let time: FakeClock;
  let cp: ControlPlane;
  let probe: AdsProbe | undefined;
  const streams: RegistryStream[] = [];

  /** Subscribes to the v2 subset cluster; returns its first EDS response. */
  async function watchEds(): Promise<Message> {
    probe = new AdsProbe(cp.xdsPort);
    return await probe.request({ type_url: EDS, resource_names: [CLUSTER], node: WEFT_NODE });
  }

  /** ACKs `response`, lets the registry debounce fire, and returns the next EDS push. */
  async function nextEds(response: Message): Promise<Message> {
    probe!.send({
      type_url: EDS,
      resource_names: [CLUSTER],
      version_info: response.version_info,
      response_nonce: response.nonce,
      node: WEFT_NODE,
    });
    await time.fake.tickAsync(100); // the debounce quiet period
    return await probe!.next();
  }

  function open(): RegistryStream {
    const stream = new RegistryStream(cp.xdsPort);
    streams.push(stream);
    return stream;
  }

  beforeEach(async () => {
    dir = await makeConfigDir({ 'inventory.yaml': INVENTORY_YAML });
    time = createFakeClock();
    cp = await startControlPlane({
      configDir: dir,
      xdsPort: 0,
      adminPort: 0,
      watch: false,
      clock: time.clock,
      leaseTtlMs: TTL_MS,
    });
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    probe?.close();
    probe = undefined;
    await cp.close();
    await removeDir(dir);
  });

  it('serves a registration in EDS (merged with the WorkloadEntry subset) and drops it at once when the stream ends', async () => {
    const first = await watchEds();
    assert.deepEqual(endpointsOf(first), []);
    const stream = open();
    stream.send({ register: registerMessage() });
    assert.deepEqual(await stream.next(), {
      response: 'registered',
      registered: { id: 'inv-1', lease_ttl_ms: TTL_MS },
    });
    const withIt = await nextEds(first);
    assert.deepEqual(endpointsOf(withIt), ['127.0.0.1:41001']);
    const gone = once(cp, 'endpoint-deregistered') as Promise<[EndpointDeregisteredEvent]>;
    stream.end();
    const [event] = await gone;
    assert.equal(event.reason, 'stream-closed');
    assert.equal(time.fake.now, 100, 'no lease time passed');
    assert.deepEqual(endpointsOf(await nextEds(withIt)), []);
    assert.equal((await stream.status).code, 0);
  });

  it('drops a quiet lease after the TTL, ends its stream UNAVAILABLE and counts an expiration', async () => {
    const first = await watchEds();
    const stream = open();
    stream.send({ register: registerMessage() });
    await stream.next();
    const withIt = await nextEds(first);
    assert.deepEqual(endpointsOf(withIt), ['127.0.0.1:41001']);
    await time.fake.tickAsync(TTL_MS - 101);
    assert.equal(cp.registryDocument().registrations.length, 1);
    await time.fake.tickAsync(1);
    assert.equal(cp.registryDocument().registrations.length, 0);
    assert.equal((await stream.status).code, 14); // UNAVAILABLE
    assert.deepEqual(endpointsOf(await nextEds(withIt)), []);
    const metrics = await cp.metricsRegistry.getSingleMetricAsString(
      'weft_cp_registry_expirations_total',
    );
    assert.match(metrics, /^weft_cp_registry_expirations_total 1$/m);
  });

  it('keeps a lease whose client heartbeats every TTL / 3', async () => {
    const stream = open();
    stream.send({ register: registerMessage() });
    await stream.next();
    for (let i = 0; i < 9; i++) {
      await time.fake.tickAsync(TTL_MS / 3);
      stream.send({ heartbeat: {} });
      // Wait until the server saw it (its lastSeenMs moves to the fake now).
      const now = time.fake.now;
      while (cp.registryDocument().registrations[0]?.lease.lastSeenMs !== now)
        await new Promise((r) => setImmediate(r));
    }
    assert.equal(time.fake.now, 3 * TTL_MS);
    assert.equal(cp.registryDocument().registrations.length, 1);
  });

  it('rejects an invalid registration naming the field, and keeps the stream for valid ones', async () => {
    const stream = open();
    stream.send({ register: registerMessage({ id: 'bad', address: 'localhost' }) });
    const rejected = await stream.next();
    assert.equal(rejected.response, 'rejected');
    assert.equal(rejected.rejected.id, 'bad');
    assert.equal(rejected.rejected.field, 'address');
    assert.match(rejected.rejected.message, /^address: /);
    stream.send({ register: registerMessage({ id: 'bad-port', port: 0 }) });
    assert.equal((await stream.next()).rejected.field, 'port');
    stream.send({ register: registerMessage() });
    assert.equal((await stream.next()).response, 'registered');
    assert.deepEqual(
      cp.registryDocument().registrations.map((r) => r.endpoint.id),
      ['inv-1'],
    );
  });

  it('answers deregister and shows registrations with lease state on /registry and in the gauge', async () => {
    const stream = open();
    stream.send({ register: registerMessage() });
    stream.send({ register: registerMessage({ id: 'inv-2', port: 41002 }) });
    await stream.next();
    await stream.next();
    await time.fake.tickAsync(100);
    const doc = await getJson(cp.adminPort, '/registry');
    assert.equal(doc.leaseTtlMs, TTL_MS);
    assert.equal(doc.leases, 1);
    assert.deepEqual(
      doc.registrations.map((r: Message) => [
        r.endpoint.id,
        r.placement.served,
        r.placement.servicePorts,
      ]),
      [
        ['inv-1', true, [8080]],
        ['inv-2', true, [8080]],
      ],
    );
    assert.equal(
      doc.registrations[0].lease.expiresAtMs,
      Number(doc.registrations[0].lease.lastSeenMs) + TTL_MS,
    );
    assert.match(
      await cp.metricsRegistry.getSingleMetricAsString('weft_cp_registered_endpoints'),
      /^weft_cp_registered_endpoints\{service="inventory"\} 2$/m,
    );
    stream.send({ deregister: { id: 'inv-1' } });
    assert.deepEqual(await stream.next(), {
      response: 'deregistered',
      deregistered: { id: 'inv-1' },
    });
    assert.deepEqual(
      cp.registryDocument().registrations.map((r) => r.endpoint.id),
      ['inv-2'],
    );
    assert.match(
      await cp.metricsRegistry.getSingleMetricAsString('weft_cp_registered_endpoints'),
      /^weft_cp_registered_endpoints\{service="inventory"\} 1$/m,
    );
  });
});
