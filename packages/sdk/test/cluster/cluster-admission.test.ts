// Tests for ClusterAdmission: max_requests counting, the overflow error and its log lines, the
// per-cluster snapshot, and the once-per-resource warning for thresholds gRPC does not enforce.
import assert from 'node:assert/strict';
import type { CircuitBreakersUpdate, Logger } from '@weft/xds-client';
import { WeftError } from '@weft/xds-client';
import { ClusterAdmission } from '../../src/cluster/cluster-admission.js';
import { cluster } from '../helpers/xds-builders.js';

function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const TWO: CircuitBreakersUpdate = {
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 2,
  maxRetries: 3,
  retryBudget: undefined,
};

describe('ClusterAdmission', () => {
  describe('tryStartRequest', () => {
    it('admits up to max_requests per cluster and again after endRequest', () => {
      const a = new ClusterAdmission(recordingLogger(), 'http');
      assert.equal(a.tryStartRequest('c', TWO), true);
      assert.equal(a.tryStartRequest('c', TWO), true);
      assert.equal(a.tryStartRequest('c', TWO), false);
      assert.equal(a.tryStartRequest('other', TWO), true, 'clusters count separately');
      a.endRequest('c');
      assert.equal(a.tryStartRequest('c', TWO), true);
      assert.equal(a.snapshot()['c']?.active, 2);
    });

    it("uses Envoy's default of 1024 without a cluster resource", () => {
      const a = new ClusterAdmission(recordingLogger(), 'http');
      for (let i = 0; i < 1024; i++) assert.equal(a.tryStartRequest('c', undefined), true);
      assert.equal(a.tryStartRequest('c', undefined), false);
    });
  });

  describe('overflow', () => {
    it('returns WEFT_OVERFLOW (503, UO) naming cluster and threshold, counts it and logs', () => {
      const logger = recordingLogger();
      const a = new ClusterAdmission(logger, 'http');
      const err = a.overflow('outbound|80||inventory', 'max_pending_requests', 5);
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, 'WEFT_OVERFLOW');
      assert.equal(err.httpStatus, 503);
      assert.equal(err.responseFlag, 'UO');
      assert.match(err.message, /outbound\|80\|\|inventory.*max_pending_requests \(5\)/);
      a.overflow('outbound|80||inventory', 'max_requests', 2);
      assert.equal(a.overflows, 2);
      assert.deepEqual(a.snapshot()['outbound|80||inventory'], {
        active: 0,
        pending: 0,
        connections: 0,
        overflows: 2,
      });
      assert.deepEqual(
        logger.lines.map((l) => l.level),
        ['warn', 'debug', 'debug'],
        'a warn the first time, a debug line every time',
      );
    });
  });

  describe('warnUnenforced', () => {
    it('warns once per cluster resource about thresholds gRPC leaves to grpc-js', () => {
      const logger = recordingLogger();
      const a = new ClusterAdmission(logger, 'grpc');
      const base = cluster('c');
      a.warnUnenforced(base);
      assert.equal(logger.lines.length, 0, 'defaults: nothing to say');
      const limited = {
        ...base,
        circuitBreakers: { ...base.circuitBreakers, maxConnections: 1 },
        maxRequestsPerConnection: 3,
      };
      a.warnUnenforced(limited);
      a.warnUnenforced(limited);
      assert.equal(logger.lines.length, 1);
      assert.match(logger.lines[0]?.message ?? '', /grpc enforces max_requests only/);
    });
  });
});
