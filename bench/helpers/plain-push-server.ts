// Child process for the "plain grpc-js" baseline: a bidi-streaming server with no mesh logic that,
// on `push BYTES` on stdin, writes one message of BYTES to every open stream.
// Prints `{"event":"listening","port":N}` once bound; exits when stdin closes.
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { createInterface } from 'node:readline';
import { PLAIN_PUSH_SERVICE } from './plain-push-service.js';

const calls = new Set<ServerDuplexStream<Buffer, Buffer>>();
const server = new Server();
server.addService(PLAIN_PUSH_SERVICE, {
  stream: (call: ServerDuplexStream<Buffer, Buffer>) => {
    calls.add(call);
    let greeted = false;
    call.on('data', () => {
      // The first message is a hello, answered so the client knows the server holds its stream;
      // later ones are ACKs.
      if (greeted) return;
      greeted = true;
      call.write(Buffer.alloc(1));
    });
    const drop = (): void => {
      calls.delete(call);
    };
    call.on('end', () => {
      drop();
      call.end();
    });
    call.on('cancelled', drop);
    call.on('error', drop);
  },
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err !== null) throw err;
  console.log(JSON.stringify({ event: 'listening', port }));
});
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'push') {
    const payload = Buffer.alloc(Number(arg), 1);
    for (const call of calls) call.write(payload);
  }
});
lines.on('close', () => {
  for (const call of calls) call.end();
  server.forceShutdown();
});
