// Turns zod issues into Weft's located issues: our own short messages, one issue per unknown field,
// each with the file, line and resource. Spec: STYLE.md rule 16.
import type { z } from 'zod';
import type { LocatedIssue } from '../contracts.js';
import { formatFieldPath } from './yaml-documents.js';
import type { FieldPath, SourceDocument } from './yaml-documents.js';

function valueAt(root: unknown, path: FieldPath): unknown {
  let node = root;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}

function messageFor(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined
        ? 'required'
        : `expected ${issue.expected}, got ${describe(value)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => String(v)).join(', ')}, got ${describe(value)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${String(issue.minimum)}, got ${describe(value)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}, got ${describe(value)}`;
    case 'invalid_format':
    case 'custom':
    case 'invalid_element':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
    case 'unrecognized_keys':
      return issue.message;
  }
}

/**
 * Converts zod issues for `value` (found at `basePath` inside `source`) into located issues.
 * Integer checks surface as `invalid_type` with expected `int`, shown as such.
 */
export function locateZodIssues(
  issues: readonly z.core.$ZodIssue[],
  source: SourceDocument,
  resource: string | undefined,
  basePath: FieldPath,
): LocatedIssue[] {
  const out: LocatedIssue[] = [];
  const push = (path: FieldPath, message: string): void => {
    out.push({
      file: source.file,
      line: source.lineOf(path),
      ...(resource === undefined ? {} : { resource }),
      field: formatFieldPath(path),
      message,
    });
  };
  for (const issue of issues) {
    const path: FieldPath = [...basePath, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) push([...path, key], 'unknown field');
      continue;
    }
    push(path, messageFor(issue, valueAt(source.value, path)));
  }
  return out;
}
