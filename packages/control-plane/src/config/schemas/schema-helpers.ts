// Building blocks shared by the Istio resource schemas: strict objects that reject Istio fields
// Weft does not support by name, durations, percentages. Spec: STYLE.md rules 15-17.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDurationMs } from '../duration.js';

/** The message for an Istio field (or value) Weft knows but does not implement. */
export const NOT_SUPPORTED = 'not supported by Weft yet';

/**
 * A field Istio defines and Weft does not implement: any present value is an issue naming it.
 */
export const unsupportedField = z
  .unknown()
  .superRefine((_value, ctx) => {
    ctx.addIssue({ code: 'custom', message: NOT_SUPPORTED });
  })
  .optional();

/**
 * A strict object (unknown keys are issues) that also knows Istio's `unsupported` field names and
 * rejects them with {@link NOT_SUPPORTED}.
 */
export function istioObject<S extends z.ZodRawShape>(
  shape: S,
  unsupported: readonly string[] = [],
) {
  const extra: Record<string, typeof unsupportedField> = {};
  for (const name of unsupported) extra[name] = unsupportedField;
  // The rejected fields never reach the output, so the type is the supported shape alone (the
  // assertion drives inference; without it the shape widens to an index signature).
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  return z.strictObject({ ...extra, ...shape } as S);
}

/** A duration string → milliseconds; `minMs` is the smallest accepted value. */
export function durationMs(minMs = 0) {
  return z.string().transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration ${JSON.stringify(text)} (expected e.g. 2s, 500ms, 1m, 1.5s)`,
      });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${minMs}ms` });
      return z.NEVER;
    }
    return ms;
  });
}

/** Istio `Percent {value}`: a double in [0, 100]. */
export const percentSchema = z.strictObject({ value: z.number().min(0).max(100) });

/** A non-negative 32-bit integer. */
export const uint32 = z.number().int().min(0).max(0xffff_ffff);

/** A TCP port number. */
export const portNumber = z.number().int().min(1).max(65535);

/** A `string → string` map (labels). */
export const stringMap = z.record(z.string(), z.string());

/** An IP literal; DNS names are refused explicitly (gRPC clients need IPs). */
export const ipAddress = z.string().superRefine((value, ctx) => {
  if (isIP(value) === 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be an IP address; DNS names (${JSON.stringify(value)}) are not supported by Weft yet`,
    });
  }
});

/** Istio StringMatch: exactly one of exact, prefix, regex. */
export const stringMatchSchema = z
  .strictObject({
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    const set = [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length;
    if (set !== 1)
      ctx.addIssue({ code: 'custom', message: 'set exactly one of exact, prefix, regex' });
    if (m.regex !== undefined) {
      try {
        new RegExp(m.regex);
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: `invalid regex ${JSON.stringify(m.regex)}`,
          path: ['regex'],
        });
      }
    }
  });
