/**
 * Signed bundles: `NAME-VERSION.tar.sig` beside the sidecar holds the base64 signature over the exact bytes of
 * `NAME-VERSION.tar.sha256` (which proves the tar, or every part). Checked with our tool (`verify --key`, `load
 * --key`) or without it (docs/signing.md: openssl, cosign verify-blob).
 */
import type { KeyObject } from "node:crypto";
import { lstat, readFile } from "node:fs/promises";
import { readSmallFile } from "../util/small-file.js";
import { writeWholeFile } from "../util/whole-file.js";

/** Largest `.sig` read: its base64 signature is under 200 bytes. */
const MAX_SIGNATURE_FILE_BYTES = 16 * 1024;
import { basename } from "node:path";
import { AirgapError } from "../errors.js";
import { fingerprint, signData, verifyData } from "../oci/signing.js";

/** The signature file of a sidecar: `NAME-VERSION.tar.sha256` → `NAME-VERSION.tar.sig`. */
export function signaturePath(sidecar: string): string {
  return sidecar.replace(/\.sha256$/, ".sig");
}

/** Signs the sidecar's bytes; writes the `.sig` (under a temporary name, then renamed). Returns its path. */
export async function signSidecar(sidecar: string, key: KeyObject): Promise<string> {
  const signature = signData(key, await readFile(sidecar));
  const path = signaturePath(sidecar);
  await writeWholeFile(path, `${signature.toString("base64")}\n`);
  return path;
}

/** Checks the `.sig` of a sidecar with `key`; throws VERIFY_FAILED (missing, unreadable, or not this key's). */
export async function checkSidecarSignature(sidecar: string, key: KeyObject): Promise<void> {
  const path = signaturePath(sidecar);
  const who = `key ${fingerprint(key)}`;
  const refuse = (why: string) => new AirgapError("VERIFY_FAILED", `${basename(path)}: ${why}; the bundle is refused`, {
    hint: "use the bundle as its maker signed it (copy it, its .sha256 and .sig again), or the public key that matches their signing key",
  });
  const present = await lstat(path).then(() => true, () => false);
  if (!present) throw refuse(`missing: the bundle is not signed (checked with ${who})`);
  // A signature is a few hundred bytes of base64; whatever stands in its place is read only that far.
  const text = (await readSmallFile(path, MAX_SIGNATURE_FILE_BYTES, "the signature")).toString("utf8");
  const signature = Buffer.from(text.trim(), "base64");
  const data = await readFile(sidecar).catch(() => undefined);
  if (data === undefined) throw refuse(`${basename(sidecar)} is missing`);
  if (signature.length === 0 || !verifyData(key, data, signature)) throw refuse(`the signature over ${basename(sidecar)} does not verify with ${who}`);
}
