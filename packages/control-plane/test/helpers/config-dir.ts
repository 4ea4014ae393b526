// Temporary config directories with small, valid (or deliberately broken) YAML meshes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A ServiceEntry for `host` with one HTTP port and one endpoint. */
export function serviceEntryYaml(host: string, port: number, address = '127.0.0.1'): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${host}
  namespace: shop
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
    - { number: ${port}, name: http, protocol: HTTP }
  endpoints:
    - address: ${address}
`;
}

/** A ServiceEntry with an unsupported field (must be rejected, never ignored). */
export function brokenServiceEntryYaml(host: string): string {
  return serviceEntryYaml(host, 8080).replace(
    '  location: MESH_INTERNAL\n',
    '  location: MESH_INTERNAL\n  bogusField: 1\n',
  );
}

export async function makeConfigDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cp-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
