// Writes a realistic Istio-YAML mesh into a config directory for control-plane benchmarks.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Shape of the generated mesh. */
export interface MeshShape {
  /** Services `svc-0` … `svc-(n-1)`. */
  readonly services: number;
  /** WorkloadEntries per service, spread over {@link LOCALITIES}. */
  readonly workloadsPerService: number;
}

/** Port every service exposes (HTTP). */
export const SERVICE_PORT = 8080;
/** Localities the workloads are spread over (round robin). */
export const LOCALITIES = ['us-east-1/us-east-1a', 'us-east-1/us-east-1b'] as const;

function serviceYaml(host: string, shape: MeshShape, portBase: number): string {
  const docs = [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${host}
  namespace: default
spec:
  hosts: [${host}]
  ports:
    - number: ${SERVICE_PORT}
      name: http
      protocol: HTTP
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels:
      app: ${host}`,
  ];
  for (let w = 0; w < shape.workloadsPerService; w++) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${host}-${w}
  namespace: default
spec:
  address: 127.0.0.1
  ports:
    http: ${portBase + w}
  labels:
    app: ${host}
    version: v${(w % 2) + 1}
  locality: ${LOCALITIES[Math.floor(w / 2) % LOCALITIES.length]}`);
  }
  docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${host}
  namespace: default
spec:
  host: ${host}
  subsets:
    - name: v1
      labels:
        version: v1
    - name: v2
      labels:
        version: v2`);
  return docs.join('\n---\n') + '\n';
}

/** The VirtualService of `host`: an HTTP route split `v1Weight` / `100 - v1Weight` over the subsets. */
export function virtualServiceYaml(host: string, v1Weight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${host}
  namespace: default
spec:
  hosts: [${host}]
  http:
    - name: split
      route:
        - destination:
            host: ${host}
            subset: v1
          weight: ${v1Weight}
        - destination:
            host: ${host}
            subset: v2
          weight: ${100 - v1Weight}
`;
}

/** Writes one file per service plus one VirtualService file per service (`<host>-vs.yaml`). */
export async function writeMesh(dir: string, shape: MeshShape): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let s = 0; s < shape.services; s++) {
    const host = `svc-${s}`;
    const portBase = 9000 + s * shape.workloadsPerService;
    await writeFile(join(dir, `${host}.yaml`), serviceYaml(host, shape, portBase));
    await writeFile(join(dir, `${host}-vs.yaml`), virtualServiceYaml(host, 80));
  }
}

/**
 * Rewrites `<host>-vs.yaml` in place. Not write-then-rename: on Linux, Node's recursive
 * `fs.watch` stops reporting a file once it has been replaced by a rename, so the control plane
 * would miss every later edit of it. The control plane's 100 ms debounce covers the window in
 * which the file is truncated but not yet written.
 */
export async function rewriteVirtualService(
  dir: string,
  host: string,
  v1Weight: number,
): Promise<void> {
  await writeFile(join(dir, `${host}-vs.yaml`), virtualServiceYaml(host, v1Weight));
}
