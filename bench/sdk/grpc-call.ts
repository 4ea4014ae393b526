// A unary echo call on a grpc-js client, as a promise (shared by the gRPC benchmark and its peer process).
import type { Client } from '@grpc/grpc-js';

/** Makes one `Call` on an EchoClient. */
export function echoCall(client: Client): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
      client,
      { message: 'bench' },
      (err: Error | null, res: unknown) => {
        if (err) reject(err);
        else resolve(res);
      },
    );
  });
}
