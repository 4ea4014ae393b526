// The watcher a caller registers for one xDS resource (gRFC A88: data errors vs ambient errors).
import type { WeftError } from '../errors/weft-error.js';

/**
 * Receives the state of one watched resource. Callbacks run on the client's event loop turn
 * and must not throw (a throw is caught and logged).
 */
export interface ResourceWatcher<T> {
  /** A new value (never called with a value equal to the previous one). */
  onChanged(value: T): void;
  /**
   * The resource is invalid and no previous value exists, or it does not exist (deleted,
   * `removed_resources`, or the does-not-exist timer fired): drop what you hold.
   * `err.code` is WEFT_INVALID_RESOURCE or WEFT_RESOURCE_DOES_NOT_EXIST.
   */
  onResourceError(err: WeftError): void;
  /**
   * Trouble that does not invalidate the last value: the stream failed (WEFT_XDS_STREAM) or an
   * update of this resource was NACKed (WEFT_INVALID_RESOURCE). Keep using the last value.
   */
  onAmbientError(err: WeftError): void;
}
