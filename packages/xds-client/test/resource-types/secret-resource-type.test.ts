// Tests for SecretResourceType (SDS): certificate + key and validation-context secrets, PEM
// parsing, and that the private key never shows up in serialized or inspected output.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { inspect } from 'node:util';
import { SECRET_TYPE_URL } from '../../src/protos/type-urls.js';
import { SecretResourceType } from '../../src/resource-types/secret-resource-type.js';
import { ctx, encode, expectIssueAt, expectOk } from './fixtures.js';
import { CA_CERT_PEM, LEAF_CERT_PEM, LEAF_KEY_PEM, OTHER_KEY_PEM } from './test-pem.js';

const sds = new SecretResourceType();
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/inventory';
const CERT_SECRET = {
  name: 'default',
  tls_certificate: {
    certificate_chain: { inline_string: LEAF_CERT_PEM },
    private_key: { inline_bytes: Buffer.from(LEAF_KEY_PEM) },
  },
};
const CA_SECRET = {
  name: 'ROOTCA',
  validation_context: {
    trusted_ca: { inline_string: CA_CERT_PEM + LEAF_CERT_PEM },
    match_subject_alt_names: [{ prefix: 'spiffe://cluster.local/' }],
  },
};
const KEY_BODY = LEAF_KEY_PEM.split('\n')[1]!;

describe('SecretResourceType', () => {
  describe('decode', () => {
    it('decodes a certificate secret: chain info, URI SANs, expiry and a KeyObject', () => {
      const value = expectOk(sds.decode(encode(SECRET_TYPE_URL, CERT_SECRET), ctx));
      assert.equal(value.kind, 'tls_certificate');
      assert.equal(value.name, 'default');
      assert.equal(value.certificates.length, 1);
      assert.deepEqual(value.certificates[0]!.uriSans, [SPIFFE]);
      assert.equal(value.certificates[0]!.notAfterMs, Date.parse('2126-10-31T03:06:46Z'));
      assert.equal(value.privateKey.type, 'private');
      assert.equal(value.certificateChainPem, LEAF_CERT_PEM);
    });

    it('keeps the private key out of JSON, inspect output and spreads', () => {
      const value = expectOk(sds.decode(encode(SECRET_TYPE_URL, CERT_SECRET), ctx));
      for (const text of [
        JSON.stringify(value),
        inspect(value, { depth: 10, showHidden: false }),
        JSON.stringify({ ...value }),
      ]) {
        assert.ok(!text.includes(KEY_BODY), 'key material leaked');
        assert.ok(!text.includes('PRIVATE KEY'), 'key PEM leaked');
      }
      assert.ok(!Object.keys(value).includes('privateKey'));
    });

    it('decodes a validation context, parsing every trusted CA', () => {
      const value = expectOk(sds.decode(encode(SECRET_TYPE_URL, CA_SECRET), ctx));
      assert.equal(value.kind, 'validation_context');
      assert.deepEqual(
        value.trustedCas.map((c) => c.subject),
        ['CN=weft-test-ca', 'O=weft-test'],
      );
      assert.deepEqual(value.matchSubjectAltNames, [
        { kind: 'prefix', value: 'spiffe://cluster.local/', ignoreCase: false },
      ]);
    });

    const invalid: { name: string; raw: Record<string, unknown>; path: string }[] = [
      {
        name: 'a secret without a name',
        raw: { tls_certificate: CERT_SECRET.tls_certificate },
        path: 'name',
      },
      {
        name: 'a generic secret',
        raw: { name: 's', generic_secret: { secret: { inline_string: 'x' } } },
        path: 'generic_secret',
      },
      {
        name: 'a certificate given as a file name',
        raw: {
          name: 's',
          tls_certificate: {
            ...CERT_SECRET.tls_certificate,
            certificate_chain: { filename: '/etc/cert.pem' },
          },
        },
        path: 'tls_certificate.certificate_chain',
      },
      {
        name: 'a certificate without a private key',
        raw: {
          name: 's',
          tls_certificate: { certificate_chain: { inline_string: LEAF_CERT_PEM } },
        },
        path: 'tls_certificate.private_key',
      },
      {
        name: 'a chain that is not PEM',
        raw: {
          name: 's',
          tls_certificate: {
            ...CERT_SECRET.tls_certificate,
            certificate_chain: { inline_string: 'hello' },
          },
        },
        path: 'tls_certificate.certificate_chain',
      },
      {
        name: 'a corrupted certificate',
        raw: {
          name: 's',
          tls_certificate: {
            ...CERT_SECRET.tls_certificate,
            certificate_chain: {
              inline_string: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
            },
          },
        },
        path: 'tls_certificate.certificate_chain',
      },
      {
        name: 'a private key that is not PEM',
        raw: {
          name: 's',
          tls_certificate: {
            ...CERT_SECRET.tls_certificate,
            private_key: { inline_string: 'nope' },
          },
        },
        path: 'tls_certificate.private_key',
      },
      {
        name: 'a private key that does not match the certificate',
        raw: {
          name: 's',
          tls_certificate: {
            ...CERT_SECRET.tls_certificate,
            private_key: { inline_string: OTHER_KEY_PEM },
          },
        },
        path: 'tls_certificate.private_key',
      },
      {
        name: 'a validation context without trusted_ca',
        raw: { name: 's', validation_context: {} },
        path: 'validation_context.trusted_ca',
      },
      {
        name: 'a SAN matcher with an empty prefix',
        raw: {
          name: 's',
          validation_context: {
            ...CA_SECRET.validation_context,
            match_subject_alt_names: [{ prefix: '' }],
          },
        },
        path: 'validation_context.match_subject_alt_names[0].prefix',
      },
    ];
    for (const { name, raw, path } of invalid) {
      it(`rejects ${name}`, () => {
        expectIssueAt(sds.decode(encode(SECRET_TYPE_URL, raw), ctx), path);
      });
    }

    it('never quotes key material in an issue', () => {
      const broken = LEAF_KEY_PEM.replace(
        KEY_BODY,
        KEY_BODY.slice(0, 20) + '!!!' + KEY_BODY.slice(23),
      );
      const raw = {
        name: 's',
        tls_certificate: { ...CERT_SECRET.tls_certificate, private_key: { inline_string: broken } },
      };
      const issues = expectIssueAt(
        sds.decode(encode(SECRET_TYPE_URL, raw), ctx),
        'tls_certificate.private_key',
      );
      assert.ok(!JSON.stringify(issues).includes(KEY_BODY.slice(0, 20)));
    });
  });

  describe('isEqual', () => {
    it('is true for the same secret and false when the certificate or key changes', () => {
      const a = expectOk(sds.decode(encode(SECRET_TYPE_URL, CERT_SECRET), ctx));
      const b = expectOk(sds.decode(encode(SECRET_TYPE_URL, CERT_SECRET), ctx));
      const ca = expectOk(sds.decode(encode(SECRET_TYPE_URL, CA_SECRET), ctx));
      const ca2 = expectOk(
        sds.decode(
          encode(SECRET_TYPE_URL, {
            ...CA_SECRET,
            validation_context: { trusted_ca: { inline_string: CA_CERT_PEM } },
          }),
          ctx,
        ),
      );
      assert.equal(sds.isEqual(a, b), true);
      assert.equal(sds.isEqual(a, ca), false);
      assert.equal(sds.isEqual(ca, ca2), false);
    });

    it('compares private keys even though they are hidden from enumeration', () => {
      const a = expectOk(sds.decode(encode(SECRET_TYPE_URL, CERT_SECRET), ctx));
      // Same enumerable content, different key: only KeyObject.equals can tell them apart.
      const forged = Object.defineProperty({ ...a }, 'privateKey', {
        value: createPrivateKey(OTHER_KEY_PEM),
        enumerable: false,
      });
      assert.equal(sds.isEqual(a, forged), false);
    });
  });

  it('round-trips through decodeAny and encodeAny to an equal update', () => {
    const first = encode(SECRET_TYPE_URL, CERT_SECRET);
    const again = encode(SECRET_TYPE_URL, ctx.protos.decodeAny(first));
    assert.ok(sds.isEqual(expectOk(sds.decode(first, ctx)), expectOk(sds.decode(again, ctx))));
  });
});
