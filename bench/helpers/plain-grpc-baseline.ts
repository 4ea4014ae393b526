// The plain alternative beside the control plane (STYLE rule 42): a grpc-js server with no mesh
// logic pushing one message to N grpc-js streams.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor, type ClientDuplexStream } from '@grpc/grpc-js';
import { PLAIN_PUSH_SERVICE } from './plain-push-service.js';
import { quantile, round } from './report.js';
import { waitFor } from './wait-for.js';

/** Deadline for the streams to open and for each push, ms. */
const TIMEOUT_MS = 30_000;
/** Pause between pushes, ms. */
const GAP_MS = 300;

const PLAIN_PUSH_SERVER = fileURLToPath(new URL('./plain-push-server.js', import.meta.url));

export interface PlainResult {
  readonly clients: number;
  readonly messageBytes: number;
  /** ms from the push command to the first / last client's receipt, p50 over the pushes. */
  readonly firstP50Ms: number;
  readonly lastP50Ms: number;
  readonly lastMaxMs: number;
}

/**
 * The plain alternative: a grpc-js bidi server process with no mesh logic writes one
 * `messageBytes` message to N grpc-js streams in this process, as the control plane does for an
 * edit. Its time is the floor under the control plane's (minus the debounce quiet period).
 */
export async function runPlainBaseline(
  n: number,
  messageBytes: number,
  pushes: number,
): Promise<PlainResult> {
  const child = spawn(process.execPath, [PLAIN_PUSH_SERVER], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const Ctor = makeGenericClientConstructor(PLAIN_PUSH_SERVICE, 'PlainPush');
  const streams: { client: InstanceType<typeof Ctor>; call: ClientDuplexStream<Buffer, Buffer> }[] =
    [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`plain push server exited with ${code}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as { event: string; port: number };
        if (msg.event === 'listening') resolve(msg.port);
      });
    });
    let signal: () => void = () => undefined;
    const received: number[] = Array.from({ length: n }, () => 0);
    const at: (number | undefined)[] = Array.from({ length: n }, () => undefined);
    for (let i = 0; i < n; i++) {
      // Same target and channel options as the xDS clients, so grpc-js pools connections alike.
      const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), {
        'grpc.max_receive_message_length': -1,
      });
      const call = (client as unknown as { stream(): ClientDuplexStream<Buffer, Buffer> }).stream();
      call.on('data', () => {
        received[i] = received[i]! + 1;
        if (received[i]! > 1) {
          at[i] ??= performance.now();
          call.write(Buffer.alloc(1)); // the ACK
        }
        signal();
      });
      call.on('error', () => undefined);
      call.write(Buffer.alloc(1)); // hello
      streams.push({ client, call });
    }
    await waitFor(
      (s) => (signal = s),
      () => received.every((r) => r >= 1),
      TIMEOUT_MS,
      'plain streams',
    );
    const firsts: number[] = [];
    const lasts: number[] = [];
    for (let k = 0; k < pushes; k++) {
      at.fill(undefined);
      const start = performance.now();
      child.stdin.write(`push ${messageBytes}\n`);
      await waitFor(
        (s) => (signal = s),
        () => at.every((t) => t !== undefined),
        TIMEOUT_MS,
        'plain push',
      );
      const latencies = at.map((t) => t! - start);
      firsts.push(Math.min(...latencies));
      lasts.push(Math.max(...latencies));
      await sleep(GAP_MS);
    }
    return {
      clients: n,
      messageBytes,
      firstP50Ms: round(quantile(firsts, 0.5)),
      lastP50Ms: round(quantile(lasts, 0.5)),
      lastMaxMs: round(Math.max(...lasts)),
    };
  } finally {
    for (const { client, call } of streams) {
      call.end();
      client.close();
    }
    child.stdin.end();
    await exited;
  }
}
