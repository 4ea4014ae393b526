// Builds a located issue for a field of an already parsed resource (cross-resource checks).
// Spec: STYLE.md rule 16.
import type { LocatedIssue } from '../contracts.js';
import type { ParsedResource } from './parse-resources.js';
import { formatFieldPath } from './yaml-documents.js';
import type { FieldPath } from './yaml-documents.js';

/** An issue at `path` (from the document root, e.g. `['spec', 'http', 0]`) of `resource`. */
export function resourceIssue(
  resource: ParsedResource,
  path: FieldPath,
  message: string,
): LocatedIssue {
  return {
    file: resource.source.file,
    line: resource.source.lineOf(path),
    resource: resource.ref,
    field: formatFieldPath(path),
    message,
  };
}
