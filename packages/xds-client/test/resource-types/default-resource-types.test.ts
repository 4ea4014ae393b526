// Tests for the default resource-type list: five types, distinct type URLs, the SotW flags.
import assert from 'node:assert/strict';
import { ADS_TYPE_URLS } from '../../src/protos/type-urls.js';
import {
  DEFAULT_RESOURCE_TYPES,
  createDefaultResourceTypes,
} from '../../src/resource-types/default-resource-types.js';

describe('DEFAULT_RESOURCE_TYPES', () => {
  it('holds one type per ADS type URL, in make-before-break order', () => {
    assert.deepEqual(
      DEFAULT_RESOURCE_TYPES.map((t) => t.typeUrl),
      [...ADS_TYPE_URLS],
    );
  });

  it('requires all resources in SotW for LDS and CDS only', () => {
    const required = DEFAULT_RESOURCE_TYPES.filter((t) => t.allResourcesRequiredInSotW).map(
      (t) => t.shortName,
    );
    assert.deepEqual(required, ['cds', 'lds']);
  });

  it('creates fresh instances on each call', () => {
    assert.notEqual(createDefaultResourceTypes()[0], createDefaultResourceTypes()[0]);
  });
});
