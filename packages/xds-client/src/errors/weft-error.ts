// The single error class of Weft: a stable `code`, the HTTP status and response flag from
// codes.ts, and the wrapped `cause`. (STYLE rules 18-20.)
import { WEFT_ERROR_CODES, type WeftErrorCode } from './codes.js';

const WEFT_ERROR_BRAND = Symbol.for('weft.error');

/** One problem found while validating input: where (`path`) and what (`message`). */
export interface ConfigIssue {
  /** Dotted path into the input, e.g. `spec.http[2].route[0].weight`; may start with `file:line`. */
  readonly path: string;
  readonly message: string;
}

/** Every error Weft produces. Brand-checked so `instanceof` survives duplicate installs. */
export class WeftError extends Error {
  readonly code: WeftErrorCode;
  readonly httpStatus: number;
  readonly responseFlag: string;
  readonly [WEFT_ERROR_BRAND] = true;

  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeftError';
    this.code = code;
    this.httpStatus = WEFT_ERROR_CODES[code].httpStatus;
    this.responseFlag = WEFT_ERROR_CODES[code].responseFlag;
  }

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    // Subclasses keep ordinary prototype checks; the base class accepts any branded error.
    if (this !== WeftError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && WEFT_ERROR_BRAND in value;
  }

  /** Returns `value` if it is a WeftError, else wraps it as WEFT_INTERNAL keeping it as `cause`. */
  static from(value: unknown, code: WeftErrorCode = 'WEFT_INTERNAL'): WeftError {
    if (value instanceof WeftError) return value;
    const message = value instanceof Error ? value.message : String(value);
    return new WeftError(code, message, { cause: value });
  }
}

/** A WEFT_INVALID_CONFIG error carrying every issue found, each with its path. */
export class ConfigError extends WeftError {
  readonly issues: readonly ConfigIssue[];

  constructor(
    what: string,
    issues: readonly ConfigIssue[],
    code: WeftErrorCode = 'WEFT_INVALID_CONFIG',
  ) {
    super(code, `${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
  }
}
