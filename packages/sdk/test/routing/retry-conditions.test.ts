import assert from 'node:assert/strict';
import type { RetryPolicyUpdate } from '@weft/xds-client';
import {
  retriableGrpcCodes,
  retriesFailure,
  retriesStatus,
  retryBackoffMs,
} from '../../src/routing/retry-conditions.js';
import type { RetriableFailure } from '../../src/routing/retry-conditions.js';

function policy(retryOn: string[], retriableStatusCodes: number[] = []): RetryPolicyUpdate {
  return {
    retryOn,
    numRetries: 1,
    perTryTimeoutMs: undefined,
    baseIntervalMs: 25,
    maxIntervalMs: 250,
    retriableStatusCodes,
  };
}

describe('retry conditions', function () {
  describe('retriesStatus', function () {
    const table: [string, string[], number[], number, boolean][] = [
      ['5xx retries 500', ['5xx'], [], 500, true],
      ['5xx retries 503', ['5xx'], [], 503, true],
      ['5xx does not retry 404', ['5xx'], [], 404, false],
      ['gateway-error retries 502', ['gateway-error'], [], 502, true],
      ['gateway-error retries 504', ['gateway-error'], [], 504, true],
      ['gateway-error does not retry 500', ['gateway-error'], [], 500, false],
      ['retriable-4xx retries 409', ['retriable-4xx'], [], 409, true],
      ['retriable-4xx does not retry 429', ['retriable-4xx'], [], 429, false],
      [
        'retriable-status-codes retries a listed code',
        ['retriable-status-codes'],
        [429],
        429,
        true,
      ],
      ['a listed code without retriable-status-codes is not retried', ['5xx'], [429], 429, false],
      ['reset alone does not retry a status', ['reset'], [], 503, false],
      ['gRPC conditions do not retry an HTTP status', ['unavailable'], [], 503, false],
    ];
    for (const [name, retryOn, codes, status, expected] of table) {
      it(name, function () {
        assert.equal(retriesStatus(policy(retryOn, codes), status), expected);
      });
    }
  });

  describe('retriesFailure', function () {
    const table: [string[], RetriableFailure, boolean][] = [
      [['5xx'], 'connect-failure', true],
      [['5xx'], 'reset', true],
      [['5xx'], 'per-try-timeout', true],
      [['gateway-error'], 'per-try-timeout', true],
      [['reset'], 'reset', true],
      [['connect-failure'], 'connect-failure', true],
      [['connect-failure'], 'reset', false],
      [['connect-failure'], 'per-try-timeout', false],
      [['retriable-4xx'], 'reset', false],
      [['unavailable'], 'reset', false],
    ];
    for (const [retryOn, failure, expected] of table) {
      it(`${retryOn.join(',')} ${expected ? 'retries' : 'does not retry'} ${failure}`, function () {
        assert.equal(retriesFailure(policy(retryOn), failure), expected);
      });
    }
  });

  describe('retriableGrpcCodes', function () {
    it("maps Envoy's gRPC conditions to status codes and ignores HTTP ones", function () {
      assert.deepEqual(
        retriableGrpcCodes(
          policy([
            'unavailable',
            '5xx',
            'cancelled',
            'deadline-exceeded',
            'internal',
            'resource-exhausted',
          ]),
        ),
        [1, 4, 8, 13, 14],
      );
    });
  });

  describe('retryBackoffMs', function () {
    it('is uniform in [0, min(base × 2^n, max))', function () {
      const p = policy(['5xx']);
      assert.equal(
        retryBackoffMs(p, 0, () => 0),
        0,
      );
      assert.equal(
        retryBackoffMs(p, 0, () => 0.999),
        24,
      );
      assert.equal(
        retryBackoffMs(p, 1, () => 0.999),
        49,
      );
      assert.equal(
        retryBackoffMs(p, 3, () => 0.999),
        199,
      );
      assert.equal(
        retryBackoffMs(p, 4, () => 0.999),
        249,
      );
      assert.equal(
        retryBackoffMs(p, 40, () => 0.999),
        249,
      );
    });
  });
});
