// Formats config issues for people: one `file:line: Kind/ns/name: field: message` line each.
// Spec: DESIGN.md "The `weft` command" (weft validate).
import { formatLocatedIssue } from '../contracts.js';
import type { LocatedIssue } from '../contracts.js';

/** All issues, one per line, in the order given (the loader sorts by file and line). */
export function formatConfigIssues(issues: readonly LocatedIssue[]): string {
  return issues.map(formatLocatedIssue).join('\n');
}
