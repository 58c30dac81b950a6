/**
 * Image signatures checked offline: each image's cosign signatures carried in the bundle, against a public key —
 * no network. A signature counts when its simple-signing payload names this image's manifest digest and the
 * signature in its layer's `dev.cosignproject.cosign/signature` annotation verifies over the payload's bytes.
 * Keyless signatures (a Fulcio certificate, a Rekor entry) cannot be checked with a key: they are reported as such.
 * https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md
 */
import type { KeyObject } from "node:crypto";
import { AirgapError, type Problem } from "../errors.js";
import { MAX_MANIFEST_BYTES, parseManifest, isParsedIndex } from "../oci/descriptor.js";
import { verifyData } from "../oci/signing.js";
import type { BundleReader } from "../bundle/reader.js";

const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
const CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate";

/** One image's verdict. */
export interface SignatureVerdict {
  source: string;
  state: "signed" | "unsigned" | "bad" | "keyless";
  /** Why it is bad or keyless; for signed, which signature manifest. */
  detail?: string;
}

/** Reads each signature layer of one cosign signature manifest and judges it for `digest`. */
async function judge(reader: BundleReader, manifestDigest: string, mediaType: string, size: number, digest: string, key: KeyObject): Promise<SignatureVerdict["state"] | string> {
  const bytes = await reader.fetchBytes({ digest: manifestDigest, mediaType, size }, MAX_MANIFEST_BYTES);
  const m = parseManifest(bytes, mediaType, manifestDigest);
  if (isParsedIndex(m)) return "the signature object is an index, not a cosign signature manifest";
  let why = "it holds no simple-signing layer";
  for (const layer of m.layers.filter((l) => l.mediaType === SIMPLE_SIGNING)) {
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (!signature) {
      why = layer.annotations?.[CERTIFICATE_ANNOTATION] ? "keyless" : "its layer has no signature annotation";
      continue;
    }
    const payload = await reader.fetchBytes(layer, MAX_MANIFEST_BYTES);
    let signed: unknown;
    try {
      signed = (JSON.parse(payload.toString("utf8")) as { critical?: { image?: { "docker-manifest-digest"?: unknown } } }).critical?.image?.["docker-manifest-digest"];
    } catch {
      why = "its payload is not JSON";
      continue;
    }
    if (signed !== digest) {
      why = `it signs ${String(signed)}, not this image (${digest})`;
      continue;
    }
    if (verifyData(key, payload, Buffer.from(signature, "base64"))) return "signed";
    why = "the signature does not verify with the key";
  }
  return why;
}

/** Every image's cosign signature state against `key`, read from the bundle alone. */
export async function checkImageSignatures(reader: BundleReader, key: KeyObject): Promise<SignatureVerdict[]> {
  const referrers = reader.bundle.referrers ?? [];
  return Promise.all(reader.bundle.images.map(async (image): Promise<SignatureVerdict> => {
    const sigs = referrers.filter((r) => r.subject === image.source && r.kind === "cosign-signature");
    if (sigs.length === 0) return { source: image.source, state: "unsigned" };
    const reasons: string[] = [];
    for (const s of sigs) {
      const verdict = await judge(reader, s.digest, s.mediaType, s.size, image.digest, key);
      if (verdict === "signed") return { source: image.source, state: "signed", detail: s.digest };
      reasons.push(verdict);
    }
    if (reasons.every((r) => r === "keyless")) return { source: image.source, state: "keyless", detail: "a keyless (Fulcio/Rekor) signature: not checked offline" };
    return { source: image.source, state: "bad", detail: reasons.filter((r) => r !== "keyless").join("; ") };
  }));
}

/** Refuses (before anything is pushed) when any image lacks a good signature. */
export function requireSignatures(verdicts: readonly SignatureVerdict[], path: string): void {
  const problems: Problem[] = verdicts.filter((v) => v.state !== "signed").map((v) => ({ text: v.source, reason: v.state === "unsigned" ? "no signature in the bundle" : `${v.state}: ${v.detail}` }));
  if (problems.length === 0) return;
  throw new AirgapError("VERIFY_FAILED", `${path}: ${problems.length} of ${verdicts.length} images lack a good signature; nothing was pushed`, {
    problems,
    hint: "sign the images (cosign sign --key) and save again, or load without --require-signatures",
  });
}
