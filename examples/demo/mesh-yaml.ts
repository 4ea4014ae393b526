// Builders for the Istio YAML that cross-package tests and the demo write into a config directory.

/** One backend instance of a service, as a WorkloadEntry. */
export interface WorkloadSpec {
  readonly name: string;
  readonly port: number;
  readonly version: string;
  readonly locality: string;
}

/**
 * A service `host` with a gRPC port, its workloads, subsets per version and a VirtualService:
 * `premium` users (header x-user-type) go to `premiumSubset`; everyone else is split by `weights`.
 */
export function echoMeshYaml(options: {
  host: string;
  servicePort: number;
  workloads: readonly WorkloadSpec[];
  weights: Readonly<Record<string, number>>;
  premiumSubset?: string;
}): string {
  const versions = [...new Set(options.workloads.map((w) => w.version))];
  const docs = [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${options.host}
  namespace: default
spec:
  hosts: [${options.host}]
  ports:
    - number: ${options.servicePort}
      name: grpc
      protocol: GRPC
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels:
      app: ${options.host}`,
    ...options.workloads.map(
      (w) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${w.name}
  namespace: default
spec:
  address: 127.0.0.1
  ports:
    grpc: ${w.port}
  labels:
    app: ${options.host}
    version: ${w.version}
  locality: ${w.locality}`,
    ),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${options.host}
  namespace: default
spec:
  host: ${options.host}
  subsets:
${versions.map((v) => `    - name: ${v}\n      labels:\n        version: ${v}`).join('\n')}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${options.host}
  namespace: default
spec:
  hosts: [${options.host}]
  http:
${
  options.premiumSubset === undefined
    ? ''
    : `    - name: premium
      match:
        - headers:
            x-user-type:
              exact: premium
      route:
        - destination:
            host: ${options.host}
            subset: ${options.premiumSubset}
`
}    - name: split
      route:
${Object.entries(options.weights)
  .map(
    ([subset, weight]) =>
      `        - destination:\n            host: ${options.host}\n            subset: ${subset}\n          weight: ${weight}`,
  )
  .join('\n')}`,
  ];
  return docs.join('\n---\n') + '\n';
}

/**
 * A ServiceEntry for `host` on HTTP port 8080 whose endpoints are the workloads that register
 * themselves (mesh.serve) with the label `app: <host>`.
 */
export function registeredServiceYaml(host: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: ${host} }
`;
}
