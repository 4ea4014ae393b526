// A child process that runs a stock @grpc/grpc-js-xds client (gRPC's own proxyless client) and
// makes calls on command. Reads JSON lines on stdin, answers JSON lines on stdout:
//   {"op":"calls","target":"xds:///echo","n":1000,"metadata":{"x-user-type":"premium"},"deadlineMs":5000}
//   → {"counts":{"v1":801,"v2":199},"errors":{}}
// It runs in its own process because grpc-js-xds registers globally and reads its bootstrap
// (GRPC_XDS_BOOTSTRAP) once per process.
import { createInterface } from 'node:readline';
import { Metadata, credentials } from '@grpc/grpc-js';
import type { Client } from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { EchoClient, type EchoResponse } from '@weft/example-demo/echo-service';

grpcXds.register();

interface CallsCommand {
  readonly op: 'calls';
  readonly target: string;
  readonly n: number;
  readonly metadata?: Record<string, string>;
  readonly deadlineMs?: number;
  readonly concurrency?: number;
  /** Use grpc-js-xds's XdsChannelCredentials (xDS mTLS, gRFC A29) with an insecure fallback. */
  readonly xdsCredentials?: boolean;
}

const clients = new Map<string, Client>();
function clientFor(target: string, xdsCredentials: boolean): Client {
  const key = `${xdsCredentials ? 'xds' : 'insecure'} ${target}`;
  let client = clients.get(key);
  if (client === undefined) {
    client = new EchoClient(
      target,
      xdsCredentials
        ? new grpcXds.XdsChannelCredentials(credentials.createInsecure())
        : credentials.createInsecure(),
    );
    clients.set(key, client);
  }
  return client;
}

function callOnce(client: Client, metadata: Metadata, deadlineMs: number): Promise<EchoResponse> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>)['Call']!.call(
      client,
      { message: 'hi' },
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err: Error | null, res: EchoResponse) => {
        if (err) reject(err);
        else resolve(res);
      },
    );
  });
}

async function runCalls(cmd: CallsCommand): Promise<unknown> {
  const client = clientFor(cmd.target, cmd.xdsCredentials ?? false);
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(cmd.metadata ?? {})) metadata.set(k, v);
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cmd.n) {
      next++;
      try {
        const res = await callOnce(client, metadata, cmd.deadlineMs ?? 5000);
        counts[res.backend] = (counts[res.backend] ?? 0) + 1;
      } catch (err) {
        const key = (err as Error).message.slice(0, 200);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency ?? 8 }, worker));
  return { counts, errors };
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = JSON.parse(line) as CallsCommand;
  runCalls(cmd).then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n'),
    (err: unknown) => process.stdout.write(JSON.stringify({ fatal: String(err) }) + '\n'),
  );
});
lines.on('close', () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
