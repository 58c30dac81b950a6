/**
 * The images' cosign signatures, checked offline and shown one line per image (verify --image-key, load
 * --image-key): signed, unsigned, bad (why), keyless (not checked offline).
 */
import type { KeyObject } from "node:crypto";
import { AirgapError } from "../errors.js";
import { fingerprint } from "../oci/signing.js";
import type { BundleReader } from "../bundle/reader.js";
import type { Output } from "./output.js";

/** Prints each image's verdict; throws VERIFY_FAILED for a bad one, or for any not signed with `require`. */
export async function reportImageSignatures(reader: BundleReader, key: KeyObject, require: boolean, out: Output): Promise<void> {
  const { checkImageSignatures, requireSignatures } = await import("../ops/image-signatures.js");
  const verdicts = await checkImageSignatures(reader, key);
  for (const v of verdicts) out.info(`image signature: ${v.source}: ${v.state}${v.detail && v.state !== "signed" ? ` (${v.detail})` : ""}`);
  if (require) requireSignatures(verdicts, reader.path);
  const bad = verdicts.filter((v) => v.state === "bad");
  if (bad.length > 0) {
    throw new AirgapError("VERIFY_FAILED", `${reader.path}: ${bad.length} image signature${bad.length === 1 ? " is" : "s are"} bad (key ${fingerprint(key)})`, {
      problems: bad.map((v) => ({ text: v.source, reason: v.detail ?? "bad" })),
      hint: "the image or its signature was altered, or it was signed with another key",
    });
  }
  out.info(`image signatures: ${verdicts.filter((v) => v.state === "signed").length} of ${verdicts.length} images signed with key ${fingerprint(key)}`);
}
