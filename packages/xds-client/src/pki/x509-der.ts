// X.509 v3 certificates and PKCS #10 CSRs built and read as DER: node-forge's ASN.1 module does the
// encoding, Node's crypto does keys and signatures (node-forge cannot sign with ECDSA P-256).
// RFC 5280 §4.1 (Certificate), RFC 2986 §4 (CertificationRequest), SPIFFE X509-SVID §4.
import {
  createHash,
  createPublicKey,
  randomBytes,
  sign,
  verify,
  type KeyObject,
  type X509Certificate,
} from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
} as const;

const bin = (buf: Buffer): string => buf.toString('binary');
const buf = (binary: string): Buffer => Buffer.from(binary, 'binary');
const seq = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);
const set = (items: Asn1[]): Asn1 => asn1.create(U, T.SET, true, items);
const oid = (id: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(id).getBytes());
const octets = (binary: string): Asn1 => asn1.create(U, T.OCTETSTRING, false, binary);
const bits = (binary: string): Asn1 => asn1.create(U, T.BITSTRING, false, '\x00' + binary);
const utf8 = (text: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(text));
const der = (node: Asn1): Buffer => buf(asn1.toDer(node).getBytes());
/** A context-specific tag ([n]); forge types tag numbers as its UNIVERSAL `Type` enum. */
const ctx = (tag: number, constructed: boolean, value: Asn1[] | string): Asn1 =>
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- [n] tags are numbers, not UNIVERSAL types
  asn1.create(CTX, tag, constructed, value);
const isCtx = (node: Asn1, tag: number): boolean => {
  const nodeTag: number = node.type;
  return node.tagClass === CTX && nodeTag === tag;
};

/** The `i`th child of a constructed node; throws on malformed input. */
function child(node: Asn1 | undefined, i: number): Asn1 {
  const value = node?.value;
  const found = Array.isArray(value) ? value[i] : undefined;
  if (found === undefined) throw new Error('malformed DER: missing element');
  return found;
}

function children(node: Asn1 | undefined): Asn1[] {
  const value = node?.value;
  return Array.isArray(value) ? value : [];
}

function primitive(node: Asn1): string {
  if (typeof node.value !== 'string') throw new Error('malformed DER: expected a primitive');
  return node.value;
}

const oidOf = (node: Asn1): string => asn1.derToOid(forge.util.createBuffer(primitive(node)));
// @types/node-forge declares only the old boolean `strict` argument; forge also takes options.
const fromDerWithOptions = asn1.fromDer as unknown as (
  bytes: string,
  options: { readonly strict: boolean; readonly decodeBitStrings: boolean },
) => Asn1;
// Bit strings stay raw: an EC point (04…) would otherwise be mistaken for nested DER.
const fromDer = (data: Buffer): Asn1 =>
  fromDerWithOptions(bin(data), { strict: true, decodeBitStrings: false });

function time(date: Date): Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** The signature algorithm a key signs with, and the digest Node's `sign` takes. */
function signatureAlgorithm(key: KeyObject): {
  readonly algId: Asn1;
  readonly digest: string | null;
} {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    if (key.asymmetricKeyDetails?.namedCurve === 'secp384r1')
      return { algId: seq([oid(OID.ecdsaWithSha384)]), digest: 'sha384' };
    return { algId: seq([oid(OID.ecdsaWithSha256)]), digest: 'sha256' };
  }
  if (type === 'rsa')
    return {
      algId: seq([oid(OID.sha256WithRsa), asn1.create(U, T.NULL, false, '')]),
      digest: 'sha256',
    };
  if (type === 'ed25519') return { algId: seq([oid(OID.ed25519)]), digest: null };
  throw new Error(`unsupported signing key type ${String(type)}`);
}

/** Digest for verifying a signature made with `algorithmOid`; undefined when unsupported. */
function verifyDigest(algorithmOid: string): string | null | undefined {
  switch (algorithmOid) {
    case OID.ecdsaWithSha256:
    case OID.sha256WithRsa:
      return 'sha256';
    case OID.ecdsaWithSha384:
      return 'sha384';
    case OID.ed25519:
      return null;
    default:
      return undefined;
  }
}

/** Attributes of an X.501 name Weft writes: a CN and optionally an O. */
export interface NameParts {
  readonly commonName?: string;
  readonly organization?: string;
}

function name(parts: NameParts): Asn1 {
  const rdns: Asn1[] = [];
  if (parts.organization !== undefined)
    rdns.push(set([seq([oid(OID.organization), utf8(parts.organization)])]));
  if (parts.commonName !== undefined)
    rdns.push(set([seq([oid(OID.commonName), utf8(parts.commonName)])]));
  return seq(rdns);
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const items = [oid(id)];
  if (critical) items.push(asn1.create(U, T.BOOLEAN, false, '\xff'));
  items.push(octets(asn1.toDer(value).getBytes()));
  return seq(items);
}

function subjectAltNameValue(uris: readonly string[], dnsNames: readonly string[]): Asn1 {
  return seq([...uris.map((u) => ctx(6, false, u)), ...dnsNames.map((d) => ctx(2, false, d))]);
}

/** Key identifier (RFC 5280 §4.2.1.2 allows any unique method): SHA-1 of the SPKI DER. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
}

/** A positive random 128-bit serial number (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial.writeUInt8((serial.readUInt8(0) & 0x7f) | 0x01, 0);
  return serial;
}

/** What {@link createCertificate} signs. */
export interface CertificateTemplate {
  readonly serial: Buffer;
  readonly subject: NameParts;
  readonly subjectPublicKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** A CA certificate (basicConstraints CA, keyCertSign) or a workload leaf. */
  readonly isCa: boolean;
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
}

/** Who signs: the issuer's certificate (absent: self-signed) and its private key. */
export interface CertificateSigner {
  readonly certificate?: X509Certificate;
  readonly privateKey: KeyObject;
}

/** Builds and signs an X.509 v3 certificate; returns it as PEM. */
export function createCertificate(
  template: CertificateTemplate,
  signer: CertificateSigner,
): string {
  const { algId, digest } = signatureAlgorithm(signer.privateKey);
  const subject = name(template.subject);
  const issuer =
    signer.certificate === undefined ? subject : certificateSubjectName(signer.certificate);
  const ski = keyIdentifier(template.subjectPublicKey);
  const aki =
    signer.certificate === undefined
      ? ski
      : (certificateSubjectKeyId(signer.certificate) ??
        keyIdentifier(signer.certificate.publicKey));
  const uris = template.uris ?? [];
  const dnsNames = template.dnsNames ?? [];
  const extensions: Asn1[] = [
    extension(
      OID.basicConstraints,
      true,
      seq(template.isCa ? [asn1.create(U, T.BOOLEAN, false, '\xff')] : []),
    ),
    // Bits: digitalSignature(0) keyEncipherment(2) | digitalSignature(0) keyCertSign(5) cRLSign(6).
    extension(
      OID.keyUsage,
      true,
      asn1.create(U, T.BITSTRING, false, template.isCa ? '\x01\x86' : '\x05\xa0'),
    ),
    extension(OID.subjectKeyId, false, octets(bin(ski))),
    extension(OID.authorityKeyId, false, seq([ctx(0, false, bin(aki))])),
  ];
  if (!template.isCa)
    extensions.push(
      extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth), oid(OID.clientAuth)])),
    );
  if (uris.length > 0 || dnsNames.length > 0) {
    // SPIFFE X509-SVID leaves have an empty subject, so the SAN must be critical (RFC 5280 §4.2.1.6).
    const emptySubject =
      template.subject.commonName === undefined && template.subject.organization === undefined;
    extensions.push(
      extension(OID.subjectAltName, emptySubject, subjectAltNameValue(uris, dnsNames)),
    );
  }
  const spki = fromDer(template.subjectPublicKey.export({ type: 'spki', format: 'der' }));
  const tbs = seq([
    ctx(0, true, [asn1.create(U, T.INTEGER, false, '\x02')]),
    asn1.create(U, T.INTEGER, false, bin(template.serial)),
    algId,
    issuer,
    seq([time(template.notBefore), time(template.notAfter)]),
    subject,
    spki,
    ctx(3, true, [seq(extensions)]),
  ]);
  const tbsDer = der(tbs);
  const signature = sign(digest, tbsDer, signer.privateKey);
  const certificate = seq([tbs, signatureAlgorithm(signer.privateKey).algId, bits(bin(signature))]);
  return toPem('CERTIFICATE', der(certificate));
}

/** PEM armour (64-column base64). */
export function toPem(label: string, data: Buffer): string {
  const b64 = data
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every PEM block with `label` in `text`, as DER. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

/** Splits a PEM bundle into one PEM string per certificate. */
export function splitCertificates(text: string): string[] {
  return pemBlocks(text, 'CERTIFICATE').map((d) => toPem('CERTIFICATE', d));
}

/** The TBSCertificate children of a certificate (decoded, bit strings left raw). */
function tbsFields(certificate: X509Certificate): Asn1[] {
  const fields = children(child(fromDer(certificate.raw), 0));
  // Without the explicit [0] version the fields shift by one (v1 certificates).
  return fields[0] !== undefined && isCtx(fields[0], 0) ? fields.slice(1) : fields;
}

/** The subject Name exactly as encoded in `certificate` (issuer names must match it byte for byte). */
function certificateSubjectName(certificate: X509Certificate): Asn1 {
  const subject = tbsFields(certificate)[4];
  if (subject === undefined) throw new Error('malformed certificate: no subject');
  return subject;
}

/** The extnValue of extension `id` among `extensions`, decoded; undefined when absent. */
function findExtension(extensions: Asn1[], id: string): Asn1 | undefined {
  for (const ext of extensions) {
    const parts = children(ext);
    const first = parts[0];
    const last = parts[parts.length - 1];
    if (first === undefined || last === undefined || oidOf(first) !== id) continue;
    return asn1.fromDer(primitive(last));
  }
  return undefined;
}

/** The subjectKeyIdentifier extension's value, if the certificate has one. */
function certificateSubjectKeyId(certificate: X509Certificate): Buffer | undefined {
  const exts = tbsFields(certificate).find((f) => isCtx(f, 3));
  const ski =
    exts === undefined ? undefined : findExtension(children(child(exts, 0)), OID.subjectKeyId);
  return ski === undefined ? undefined : buf(primitive(ski));
}

/** Builds a PKCS #10 CSR for a SPIFFE identity, signed with the workload's own key. */
export function createCsr(options: {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly uris: readonly string[];
}): string {
  const { algId, digest } = signatureAlgorithm(options.privateKey);
  const spki = fromDer(options.publicKey.export({ type: 'spki', format: 'der' }));
  const extensionRequest = seq([
    oid(OID.extensionRequest),
    set([seq([extension(OID.subjectAltName, true, subjectAltNameValue(options.uris, []))])]),
  ]);
  const info = seq([
    asn1.create(U, T.INTEGER, false, '\x00'),
    seq([]),
    spki,
    ctx(0, true, [extensionRequest]),
  ]);
  const infoDer = der(info);
  const signature = sign(digest, infoDer, options.privateKey);
  return toPem('CERTIFICATE REQUEST', der(seq([info, algId, bits(bin(signature))])));
}

/** A CSR whose self-signature verified. */
export interface ParsedCsr {
  readonly publicKey: KeyObject;
  /** URI SANs of the extensionRequest (the identity asked for); empty when none. */
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
}

/** Length of the DER TLV at `offset` (header included). */
function tlvLength(data: Buffer, offset: number): number {
  const first = data[offset + 1];
  if (first === undefined) throw new Error('truncated DER');
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4) throw new Error('unsupported DER length');
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (data[offset + 2 + i] ?? 0);
  return 2 + n + len;
}

/** Header length of the DER TLV at `offset`. */
function tlvHeader(data: Buffer, offset: number): number {
  const first = data[offset + 1] ?? 0;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

/**
 * Parses a PEM CSR and verifies its signature with its own key (proof of possession). Throws an
 * Error with a one-line reason on anything malformed.
 */
export function parseCsr(pem: string): ParsedCsr {
  const [data] = pemBlocks(pem, 'CERTIFICATE REQUEST');
  if (data === undefined) throw new Error('no "CERTIFICATE REQUEST" PEM block');
  let top: Asn1;
  try {
    top = fromDer(data);
  } catch (err) {
    throw new Error(`not DER: ${(err as Error).message}`);
  }
  const info = child(top, 0);
  const alg = child(top, 1);
  const sig = child(top, 2);
  const infoStart = tlvHeader(data, 0);
  const infoDer = data.subarray(infoStart, infoStart + tlvLength(data, infoStart));
  const publicKey = createPublicKey({ key: der(child(info, 2)), format: 'der', type: 'spki' });
  const algOid = oidOf(child(alg, 0));
  const digest = verifyDigest(algOid);
  if (digest === undefined) throw new Error(`unsupported signature algorithm ${algOid}`);
  const signature = buf(primitive(sig).slice(1));
  if (!verify(digest, infoDer, publicKey, signature))
    throw new Error('signature does not verify with the CSR public key');
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (const attribute of children(children(info)[3])) {
    if (oidOf(child(attribute, 0)) !== OID.extensionRequest) continue;
    const san = findExtension(children(child(child(attribute, 1), 0)), OID.subjectAltName);
    for (const general of children(san)) {
      if (isCtx(general, 6)) uris.push(primitive(general));
      else if (isCtx(general, 2)) dnsNames.push(primitive(general));
    }
  }
  return { publicKey, uris, dnsNames };
}

/** URI SANs of a certificate (Node reports them as `URI:…` in `subjectAltName`). */
export function certificateUris(certificate: X509Certificate): string[] {
  return subjectAltNameUris(certificate.subjectAltName);
}

/**
 * The URI entries of a subject-alt-name string as Node writes it (`X509Certificate.subjectAltName`,
 * a TLS peer certificate's `subjectaltname`: `URI:spiffe://…, DNS:…`).
 */
export function subjectAltNameUris(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(/,\s*/)
    .filter((part) => part.startsWith('URI:'))
    .map((part) => part.slice(4));
}

/**
 * A distinguished name on one line (`O=…, CN=…`). Node reports an empty subject (SPIFFE leaves)
 * as undefined despite its `string` type, hence the parameter type.
 */
export function formatName(dn: string | undefined): string {
  return (dn ?? '').replace(/\n/g, ', ');
}
