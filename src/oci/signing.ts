/**
 * Keys and signatures, as openssl and cosign make and check them: PKCS#8 PEM private keys and SPKI PEM public
 * keys, ECDSA P-256 (DER signatures over SHA-256: `openssl dgst -sha256 -sign`) or Ed25519 (over the bytes
 * themselves: `openssl pkeyutl -sign -rawin`). A key's fingerprint is the SHA-256 of its public key (DER), the
 * way ssh prints one: `SHA256:<base64>`.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { AirgapError } from "../errors.js";

/** True for a PEM private key that needs a passphrase. */
export function isEncryptedKey(pem: string): boolean {
  return pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----");
}

function checkKind(key: KeyObject, file: string): void {
  const kind = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (kind === "ed25519" || (kind === "ec" && curve === "prime256v1")) return;
  throw new AirgapError("UNSUPPORTED", `${file}: a ${kind}${curve ? ` ${curve}` : ""} key; signing takes ECDSA P-256 or Ed25519 keys`, {
    hint: "make one with bundle key create NAME, or openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256",
  });
}

/** Reads a PKCS#8 PEM private key (encrypted ones with `passphrase`); a wrong passphrase or another format is said so. */
export function privateKeyFrom(pem: string, file: string, passphrase?: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem", ...(passphrase !== undefined && { passphrase }) });
  } catch (err) {
    const reason = isEncryptedKey(pem) ? "the passphrase does not open it" : `not a PEM private key (${(err as Error).message.split("\n")[0]})`;
    throw new AirgapError("INVALID_ARGUMENT", `${file}: ${reason}`);
  }
  checkKind(key, file);
  return key;
}

/** Reads an SPKI PEM public key (a private key's public half is taken too). */
export function publicKeyFrom(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch {
    throw new AirgapError("INVALID_ARGUMENT", `${file}: not a PEM public key`, { hint: "give the .pub that bundle key create wrote (or openssl pkey -pubout)" });
  }
  checkKind(key, file);
  return key;
}

/** `SHA256:<base64>` of the public key's DER: what messages name a key by. */
export function fingerprint(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return `SHA256:${createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("base64").replace(/=+$/, "")}`;
}

/** The signature of `data`: DER ECDSA over SHA-256, or Ed25519. */
export function signData(key: KeyObject, data: Buffer): Buffer {
  return sign(key.asymmetricKeyType === "ed25519" ? null : "sha256", data, key);
}

/** Whether `signature` is `key`'s over `data` (never throws for a malformed signature: false). */
export function verifyData(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return verify(key.asymmetricKeyType === "ed25519" ? null : "sha256", data, key, signature);
  } catch {
    return false;
  }
}
