import { strict as assert } from 'node:assert';
import type { HeaderMatcherUpdate, QueryParameterMatcherUpdate } from '@weft/xds-client';
import {
  compileHeaderMatcher,
  compileQueryMatcher,
  parseQuery,
} from '../../src/routing/string-matcher.js';
import { headersOf } from '../helpers/xds-builders.js';

describe('compileHeaderMatcher', () => {
  const m = (
    name: string,
    match: HeaderMatcherUpdate['match'],
    invertMatch = false,
  ): HeaderMatcherUpdate => ({
    name,
    match,
    invertMatch,
  });
  const table: {
    name: string;
    matcher: HeaderMatcherUpdate;
    headers: Record<string, string>;
    want: boolean;
  }[] = [
    {
      name: 'exact matches an equal value',
      matcher: m('x-user', { kind: 'exact', value: 'premium', ignoreCase: false }),
      headers: { 'x-user': 'premium' },
      want: true,
    },
    {
      name: 'exact is case-sensitive by default',
      matcher: m('x-user', { kind: 'exact', value: 'premium', ignoreCase: false }),
      headers: { 'x-user': 'Premium' },
      want: false,
    },
    {
      name: 'exact with ignoreCase folds case',
      matcher: m('x-user', { kind: 'exact', value: 'PREMIUM', ignoreCase: true }),
      headers: { 'x-user': 'premium' },
      want: true,
    },
    {
      name: 'prefix matches the start',
      matcher: m('x-v', { kind: 'prefix', value: 'v1', ignoreCase: false }),
      headers: { 'x-v': 'v1.2' },
      want: true,
    },
    {
      name: 'suffix matches the end',
      matcher: m('x-v', { kind: 'suffix', value: '.2', ignoreCase: false }),
      headers: { 'x-v': 'v1.2' },
      want: true,
    },
    {
      name: 'contains matches the middle',
      matcher: m('x-v', { kind: 'contains', value: '1.', ignoreCase: false }),
      headers: { 'x-v': 'v1.2' },
      want: true,
    },
    {
      name: 'safe_regex must match the whole value',
      matcher: m('x-v', { kind: 'safe_regex', regex: '\\d{3}' }),
      headers: { 'x-v': '1234' },
      want: false,
    },
    {
      name: 'safe_regex matches a whole value',
      matcher: m('x-v', { kind: 'safe_regex', regex: '\\d{3}' }),
      headers: { 'x-v': '123' },
      want: true,
    },
    {
      name: 'invert turns a regex miss into a match',
      matcher: m('x-v', { kind: 'safe_regex', regex: '\\d{3}' }, true),
      headers: { 'x-v': '1234' },
      want: true,
    },
    {
      name: 'invert turns a match into a miss',
      matcher: m('x-v', { kind: 'exact', value: 'a', ignoreCase: false }, true),
      headers: { 'x-v': 'a' },
      want: false,
    },
    {
      name: 'a string matcher misses an absent header',
      matcher: m('x-v', { kind: 'exact', value: 'a', ignoreCase: false }),
      headers: {},
      want: false,
    },
    {
      name: 'an inverted string matcher matches an absent header',
      matcher: m('x-v', { kind: 'exact', value: 'a', ignoreCase: false }, true),
      headers: {},
      want: true,
    },
    {
      name: 'present: true matches a present header',
      matcher: m('x-v', { kind: 'present', present: true }),
      headers: { 'x-v': '' },
      want: true,
    },
    {
      name: 'present: true misses an absent header',
      matcher: m('x-v', { kind: 'present', present: true }),
      headers: {},
      want: false,
    },
    {
      name: 'present: false matches an absent header',
      matcher: m('x-v', { kind: 'present', present: false }),
      headers: {},
      want: true,
    },
    {
      name: 'inverted present: true matches an absent header',
      matcher: m('x-v', { kind: 'present', present: true }, true),
      headers: {},
      want: true,
    },
    {
      name: 'range matches start inclusive',
      matcher: m('x-n', { kind: 'range', start: 10, end: 20 }),
      headers: { 'x-n': '10' },
      want: true,
    },
    {
      name: 'range excludes end',
      matcher: m('x-n', { kind: 'range', start: 10, end: 20 }),
      headers: { 'x-n': '20' },
      want: false,
    },
    {
      name: 'range misses a non-integer',
      matcher: m('x-n', { kind: 'range', start: 10, end: 20 }),
      headers: { 'x-n': '12.5' },
      want: false,
    },
    {
      name: 'range matches negatives',
      matcher: m('x-n', { kind: 'range', start: -5, end: 0 }),
      headers: { 'x-n': '-3' },
      want: true,
    },
    {
      name: 'a -bin header never matches a string matcher',
      matcher: m('x-id-bin', { kind: 'prefix', value: '', ignoreCase: false }),
      headers: { 'x-id-bin': 'AAEC' },
      want: false,
    },
    {
      name: 'a -bin header never matches an inverted string matcher',
      matcher: m('x-id-bin', { kind: 'exact', value: 'x', ignoreCase: false }, true),
      headers: { 'x-id-bin': 'AAEC' },
      want: false,
    },
    {
      name: 'a -bin header still matches present',
      matcher: m('x-id-bin', { kind: 'present', present: true }),
      headers: { 'x-id-bin': 'AAEC' },
      want: true,
    },
    {
      name: 'header names are lower-cased once at compile time',
      matcher: m('X-User', { kind: 'exact', value: 'a', ignoreCase: false }),
      headers: { 'x-user': 'a' },
      want: true,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.equal(compileHeaderMatcher(row.matcher).test(headersOf(row.headers)), row.want);
    });
  }
});

describe('compileQueryMatcher', () => {
  const table: {
    name: string;
    matcher: QueryParameterMatcherUpdate;
    query: string;
    want: boolean;
  }[] = [
    {
      name: 'exact matches the raw value',
      matcher: { name: 'v', match: { kind: 'exact', value: '2', ignoreCase: false } },
      query: 'a=1&v=2',
      want: true,
    },
    {
      name: 'uses the first of repeated parameters',
      matcher: { name: 'v', match: { kind: 'exact', value: '2', ignoreCase: false } },
      query: 'v=1&v=2',
      want: false,
    },
    {
      name: 'regex must match the whole value',
      matcher: { name: 'v', match: { kind: 'safe_regex', regex: 'b.' } },
      query: 'v=bet',
      want: false,
    },
    {
      name: 'present matches a bare name',
      matcher: { name: 'debug', match: { kind: 'present', present: true } },
      query: 'debug',
      want: true,
    },
    {
      name: 'present misses an absent name',
      matcher: { name: 'debug', match: { kind: 'present', present: true } },
      query: 'x=1',
      want: false,
    },
    {
      name: 'a string matcher misses an absent name',
      matcher: { name: 'v', match: { kind: 'prefix', value: '', ignoreCase: false } },
      query: '',
      want: false,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.equal(compileQueryMatcher(row.matcher).test(parseQuery(row.query)), row.want);
    });
  }
});
