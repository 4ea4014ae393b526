// Issue 6, "Admin API": the SDK admin listener shows per-type xDS state. An in-process ADS server
// sends a Cluster the SDK rejects (lb_policy MAGLEV): /config_dump names the resource, the
// rejected version and the error; /metrics counts the NACK per type; a valid update then clears it.
import assert from 'node:assert/strict';
import {
  AdsServer,
  buildClusterLoadAssignment,
  buildListener,
  buildResourceSet,
} from '@weft/control-plane/testing';
import { createMesh, type Mesh, type XdsDump } from '@weft/sdk';
import { request } from 'undici';
import { eventually } from '../helpers/processes.js';

const CLUSTER = 'outbound|8080||web';

function resources(lbPolicy: string) {
  return buildResourceSet({
    listeners: [buildListener('web:8080', 'web:8080')],
    routes: [
      {
        name: 'web:8080',
        virtual_hosts: [
          {
            name: 'web',
            domains: ['*'],
            routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: CLUSTER } }],
          },
        ],
      },
    ],
    clusters: [
      {
        name: CLUSTER,
        type: 'EDS',
        eds_cluster_config: {
          eds_config: { ads: {}, resource_api_version: 'V3' },
          service_name: CLUSTER,
        },
        connect_timeout: { seconds: '1', nanos: 0 },
        lb_policy: lbPolicy,
      },
    ],
    endpoints: [
      buildClusterLoadAssignment(CLUSTER, [
        { address: '127.0.0.1', port: 1, locality: { region: 'us-east-1', zone: 'us-east-1a' } },
      ]),
    ],
  });
}

function sample(text: string, name: string, type: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{type="${type}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('sdk admin listener: xDS versions, ACK/NACK counters and NACK errors', function () {
  this.timeout(30_000);
  let ads: AdsServer;
  let mesh: Mesh;

  before(async () => {
    ads = new AdsServer();
    const port = await ads.listen();
    assert.equal(ads.setResources(resources('MAGLEV')).ok, true);
    mesh = await createMesh({
      controlPlane: `127.0.0.1:${port}`,
      node: { id: 'checkout-xds-status' },
      admin: { port: 0 },
      env: {},
    });
    await mesh.ready();
  });

  after(async () => {
    await mesh.close();
    await ads.close();
  });

  const dump = async (): Promise<XdsDump> =>
    ((await (await request(`${mesh.admin!.url}/config_dump`)).body.json()) as { xds: XdsDump }).xds;
  const metrics = async (): Promise<string> =>
    (await request(`${mesh.admin!.url}/metrics`)).body.text();

  it('shows a NACKed Cluster with its error in /config_dump and counts it in /metrics', async () => {
    // A request makes the SDK watch the route's cluster.
    await mesh.fetch('http://web:8080/').catch(() => undefined);
    const cluster = await eventually(async () => {
      const c = (await dump()).types['Cluster'];
      return c !== undefined && c.nacks > 0 ? c : undefined;
    });
    assert.equal(cluster.typeUrl, 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
    assert.equal(cluster.acks, 0);
    assert.equal(cluster.version, '', 'nothing accepted yet');
    assert.equal(cluster.resources[CLUSTER]?.state, 'NACKED');
    assert.equal(cluster.nackErrors.length, 1);
    const error = cluster.nackErrors.at(0);
    assert.ok(error !== undefined);
    assert.equal(error.name, CLUSTER);
    assert.match(error.message, /lb_policy: unsupported MAGLEV/);
    assert.notEqual(error.failedVersion, '');
    const listener = (await dump()).types['Listener'];
    assert.ok(listener !== undefined && listener.version !== '' && listener.nacks === 0);

    const text = await metrics();
    assert.equal(sample(text, 'weft_sdk_xds_nacks_total', 'Cluster'), 1);
    assert.equal(sample(text, 'weft_sdk_xds_acks_total', 'Cluster'), 0);
    assert.equal(sample(text, 'weft_sdk_xds_nacks_total', 'Listener'), 0);
    assert.ok((sample(text, 'weft_sdk_xds_acks_total', 'Listener') ?? 0) >= 1);
    assert.match(text, /weft_sdk_xds_resources\{type="Cluster",state="NACKED"[^}]*\} 1/);
  });

  it('clears the error and moves the version when a valid update is ACKed', async () => {
    assert.equal(ads.setResources(resources('ROUND_ROBIN')).ok, true);
    const cluster = await eventually(async () => {
      const c = (await dump()).types['Cluster'];
      return c !== undefined && c.acks > 0 ? c : undefined;
    });
    assert.equal(cluster.resources[CLUSTER]?.state, 'ACKED');
    assert.deepEqual(cluster.nackErrors, []);
    assert.notEqual(cluster.version, '');
    const text = await metrics();
    assert.equal(sample(text, 'weft_sdk_xds_nacks_total', 'Cluster'), 1, 'a running total');
    assert.match(
      text,
      new RegExp(`weft_sdk_xds_config_version_info\\{type="Cluster",version="${cluster.version}"`),
    );
  });
});
