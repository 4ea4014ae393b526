// One request as the route matchers see it: the path split from its query once, the lower-cased
// path and the parsed query computed only if some matcher asks. One allocation per request.
import type { RouteInput } from '../runtime/mesh-runtime.js';
import { parseQuery } from './string-matcher.js';

/** The request attributes routing reads, derived lazily from a RouteInput. */
export class RequestView {
  readonly input: RouteInput;
  /** The path without query string or fragment. */
  readonly path: string;
  private readonly rawQuery: string;
  private lower: string | undefined;
  private parsed: ReadonlyMap<string, string> | undefined;

  constructor(input: RouteInput) {
    this.input = input;
    let path = input.path;
    const hash = path.indexOf('#');
    if (hash !== -1) path = path.slice(0, hash);
    const q = path.indexOf('?');
    this.path = q === -1 ? path : path.slice(0, q);
    this.rawQuery = q === -1 ? '' : path.slice(q + 1);
  }

  /** The path lower-cased, for `case_sensitive: false` routes. */
  get lowerPath(): string {
    return (this.lower ??= this.path.toLowerCase());
  }

  /** Query parameters by name (first value wins), raw as sent. */
  get query(): ReadonlyMap<string, string> {
    return (this.parsed ??= parseQuery(this.rawQuery));
  }
}
