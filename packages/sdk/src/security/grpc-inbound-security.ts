// Inbound security for grpc-js servers: server credentials with the workload certificate (mTLS,
// client certificate required, rotation without restart) and a server interceptor that runs the
// inbound Listener's RBAC per call (denied → PERMISSION_DENIED). Spec: gRFC A29 (xDS mTLS), A41.
import {
  Metadata,
  ResponderBuilder,
  ServerCredentials,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as GrpcStatus,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
import { subjectAltNameUris } from '@weft/xds-client';
import type { InboundGuard } from './inbound-guard.js';
import type { RbacRequest } from './rbac-engine.js';
import type { WorkloadCertificates, WorkloadTlsMaterial } from './workload-certificates.js';

function contextOptions(m: WorkloadTlsMaterial): SecureContextOptions {
  return { key: m.privateKeyPem, cert: m.certChainPem.join('\n'), ca: [...m.trustBundlePem] };
}

/**
 * grpc-js server credentials over the workload certificate: TLS 1.2+, client certificate required
 * and verified against the trust bundle; each rotation updates the server's secure context (new
 * handshakes use it, open connections keep theirs).
 */
export class MeshServerCredentials extends ServerCredentials {
  readonly #off: () => void;

  constructor(certificates: WorkloadCertificates, material: WorkloadTlsMaterial) {
    super({ requestCert: true, rejectUnauthorized: true }, contextOptions(material));
    this.#off = certificates.onChange((m) => {
      this.updateSecureContextOptions(contextOptions(m));
    });
  }

  override _isSecure(): boolean {
    return true;
  }

  /** Stops following rotations. */
  detach(): void {
    this.#off();
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * A server interceptor enforcing `guard`'s RBAC on each call of a server listening on `port`.
 * Calls wait for the first inbound Listener (fail-closed); after the guard's ready timeout they
 * end UNAVAILABLE. Denied calls end PERMISSION_DENIED `RBAC: access denied`.
 */
export function createGrpcRbacInterceptor(guard: InboundGuard, port: number): ServerInterceptor {
  return (method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((md, next) => {
        const decide = (): void => {
          const auth = call.getAuthContext();
          const mtls = auth.transportSecurityType === 'ssl';
          const principal = mtls
            ? subjectAltNameUris(auth.sslPeerCertificate?.subjectaltname)[0]
            : undefined;
          const request: RbacRequest = {
            method: 'POST',
            path: method.path,
            header: (name) => {
              if (name === ':method') return 'POST';
              if (name === ':path') return method.path;
              if (name === ':authority') return call.getHost();
              const values = md.get(name);
              return values.length === 0 ? undefined : values.map(String).join(',');
            },
            destinationPort: port,
            principal,
          };
          const decision = guard.authorizeRequest(request, { mtls, principal });
          if (decision?.allowed === true) {
            next(md);
            return;
          }
          call.sendStatus({
            code: decision === undefined ? GrpcStatus.UNAVAILABLE : GrpcStatus.PERMISSION_DENIED,
            details:
              decision === undefined
                ? 'inbound transport not accepted by the PeerAuthentication in force'
                : 'RBAC: access denied',
            metadata: new Metadata(),
          });
        };
        guard.ready().then(decide, (err: unknown) => {
          call.sendStatus({
            code: GrpcStatus.UNAVAILABLE,
            details: err instanceof Error ? err.message : String(err),
            metadata: new Metadata(),
          });
        });
      })
      .build();
    const responder = new ResponderBuilder()
      .withStart((next) => {
        next(listener);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
