// Waits on a condition re-checked at each progress signal, with a deadline (no polling).

/** Resolves when `done()` holds, checked after each progress signal; rejects after `timeoutMs`. */
export function waitFor(
  subscribe: (signal: () => void) => void,
  done: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`));
    }, timeoutMs);
    const check = (): void => {
      if (done()) {
        clearTimeout(timer);
        resolve();
      }
    };
    subscribe(check);
    check();
  });
}
