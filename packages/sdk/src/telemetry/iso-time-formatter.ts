// `new Date(ms).toISOString()` for a stream of mostly increasing times (access log start times):
// the `YYYY-MM-DDTHH:mm:ss.` prefix is made once per second and the milliseconds appended, which
// skips a Date and its calendar arithmetic per line. Same text as toISOString for every input.

/** 9999-12-31T23:59:59.999Z + 1 ms: from here on toISOString writes a six-digit `+YYYYYY` year. */
const YEAR_10000_MS = 253402300800000;

export class IsoTimeFormatter {
  /** Start of the cached second, ms since the epoch; NaN: nothing cached yet. */
  private second = Number.NaN;
  /** `YYYY-MM-DDTHH:mm:ss.` of `second`. */
  private prefix = '';

  /** Exactly `new Date(ms).toISOString()`, and throws as it does (RangeError) for an invalid time. */
  format(ms: number): string {
    // Date's TimeClip truncates towards zero; the cache covers 1970 to 9999 only.
    const t = Math.trunc(ms);
    if (!(t >= 0 && t < YEAR_10000_MS)) return new Date(ms).toISOString();
    const frac = t % 1000;
    const second = t - frac;
    if (second !== this.second) {
      this.prefix = new Date(second).toISOString().slice(0, 20);
      this.second = second;
    }
    return `${this.prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  }
}
