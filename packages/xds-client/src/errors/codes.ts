// The one table of Weft error codes, with the HTTP status and Envoy response flag each maps to.
// (DESIGN.md "The request path"; STYLE rule 18.)

export const WEFT_ERROR_CODES = {
  WEFT_INVALID_CONFIG: { httpStatus: 500, responseFlag: '-' },
  WEFT_INVALID_RESOURCE: { httpStatus: 500, responseFlag: '-' },
  WEFT_BOOTSTRAP: { httpStatus: 500, responseFlag: '-' },
  WEFT_XDS_STREAM: { httpStatus: 503, responseFlag: '-' },
  WEFT_RESOURCE_DOES_NOT_EXIST: { httpStatus: 503, responseFlag: 'NC' },
  WEFT_NO_ROUTE: { httpStatus: 404, responseFlag: 'NR' },
  WEFT_NO_HEALTHY_UPSTREAM: { httpStatus: 503, responseFlag: 'UH' },
  /** Every endpoint tried refused or failed the connection (Envoy's UF). */
  WEFT_CONNECT_FAILURE: { httpStatus: 503, responseFlag: 'UF' },
  /** The upstream connection ended before a response started (Envoy's UC). */
  WEFT_UPSTREAM_RESET: { httpStatus: 503, responseFlag: 'UC' },
  /**
   * The route's retries ran out and the last attempt failed without a response (Envoy's URX);
   * `cause` is that attempt's error.
   */
  WEFT_RETRIES_EXHAUSTED: { httpStatus: 503, responseFlag: 'URX' },
  WEFT_OVERFLOW: { httpStatus: 503, responseFlag: 'UO' },
  /**
   * mTLS needs the workload's certificate and there is none (no `identity` configured, or none
   * issued yet): the connection is never made in plaintext instead (Envoy's UF).
   */
  WEFT_TLS_NO_CERTIFICATE: { httpStatus: 503, responseFlag: 'UF' },
  /**
   * The cluster's service-level breaker (opossum) is open: the request failed fast without
   * touching the network. Envoy's overflow flag, as for its own circuit breakers.
   */
  WEFT_BREAKER_OPEN: { httpStatus: 503, responseFlag: 'UO' },
  WEFT_TIMEOUT: { httpStatus: 504, responseFlag: 'UT' },
  WEFT_RBAC_DENIED: { httpStatus: 403, responseFlag: 'RBAC' },
  /** A local rate limit (token bucket) refused the request (Envoy's RL). */
  WEFT_RATE_LIMITED: { httpStatus: 429, responseFlag: 'RL' },
  /** A fault filter aborted the request (Envoy's FI); gRPC calls end with the configured status. */
  WEFT_FAULT_ABORT: { httpStatus: 503, responseFlag: 'FI' },
  WEFT_UNSUPPORTED: { httpStatus: 500, responseFlag: '-' },
  WEFT_CLOSED: { httpStatus: 503, responseFlag: '-' },
  WEFT_DESTROYED: { httpStatus: 503, responseFlag: '-' },
  WEFT_INTERNAL: { httpStatus: 500, responseFlag: '-' },
} as const satisfies Record<string, { httpStatus: number; responseFlag: string }>;

/** Every code a `WeftError` can carry; a closed union, so `switch (err.code)` can be exhaustive. */
export type WeftErrorCode = keyof typeof WEFT_ERROR_CODES;
