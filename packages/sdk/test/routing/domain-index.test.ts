import { strict as assert } from 'node:assert';
import { DomainIndex, stripPort } from '../../src/routing/domain-index.js';

describe('DomainIndex', () => {
  describe('select', () => {
    // Each row: the virtual hosts' domains (in config order), the authority, the expected host.
    const table: {
      name: string;
      hosts: Record<string, string[]>;
      authority: string;
      want: string | undefined;
    }[] = [
      {
        name: 'prefers an exact domain over every wildcard',
        hosts: { star: ['*'], pre: ['inv*'], suf: ['*tory'], exact: ['inventory'] },
        authority: 'inventory',
        want: 'exact',
      },
      {
        name: 'prefers a suffix wildcard over a prefix wildcard',
        hosts: { pre: ['inventory.*'], suf: ['*.svc'] },
        authority: 'inventory.svc',
        want: 'suf',
      },
      {
        name: 'prefers the longest suffix wildcard',
        hosts: { short: ['*.svc'], long: ['*.ns.svc'] },
        authority: 'a.ns.svc',
        want: 'long',
      },
      {
        name: 'prefers the longest prefix wildcard',
        hosts: { short: ['a.*'], long: ['a.b.*'] },
        authority: 'a.b.c',
        want: 'long',
      },
      {
        name: 'falls back to * last',
        hosts: { star: ['*'], other: ['x.*'] },
        authority: 'inventory',
        want: 'star',
      },
      {
        name: 'matches an authority with a port against a domain without one',
        hosts: { bare: ['inventory'] },
        authority: 'inventory:8080',
        want: 'bare',
      },
      {
        name: 'prefers the domain with the exact port',
        hosts: { bare: ['inventory'], port: ['inventory:8080'] },
        authority: 'inventory:8080',
        want: 'port',
      },
      {
        name: 'does not match a domain with a port against an authority without one',
        hosts: { port: ['inventory:8080'] },
        authority: 'inventory',
        want: undefined,
      },
      {
        name: 'matches case-insensitively',
        hosts: { exact: ['inventory'] },
        authority: 'InVentory',
        want: 'exact',
      },
      {
        name: 'requires a wildcard to stand for at least one character',
        hosts: { suf: ['*inventory'] },
        authority: 'inventory',
        want: undefined,
      },
      {
        name: 'keeps the first virtual host for a duplicated domain',
        hosts: { first: ['a'], second: ['a'] },
        authority: 'a',
        want: 'first',
      },
      {
        name: 'returns undefined when nothing matches',
        hosts: { a: ['a'] },
        authority: 'b',
        want: undefined,
      },
      {
        name: 'strips the port of a bracketed IPv6 authority',
        hosts: { v6: ['[::1]'] },
        authority: '[::1]:80',
        want: 'v6',
      },
    ];
    for (const row of table) {
      it(row.name, () => {
        const index = new DomainIndex(
          Object.entries(row.hosts).map(([value, domains]) => ({ domains, value })),
        );
        assert.equal(index.select(row.authority), row.want);
      });
    }
  });

  describe('stripPort', () => {
    const table: [string, string | undefined][] = [
      ['inventory:8080', 'inventory'],
      ['inventory', undefined],
      ['inventory:', undefined],
      ['[::1]:443', '[::1]'],
      ['::1', undefined],
      ['host:port', undefined],
    ];
    for (const [input, want] of table) {
      it(`turns ${JSON.stringify(input)} into ${String(want)}`, () => {
        assert.equal(stripPort(input), want);
      });
    }
  });
});
