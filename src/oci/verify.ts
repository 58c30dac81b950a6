/**
 * A stream that checks what flows through it: never more than the expected size, and at the end
 * exactly that size with the expected sha256. Nothing read is trusted until it has passed one.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { AirgapError } from "../errors.js";
import type { Descriptor } from "./descriptor.js";

/** Hex of a `sha256:` digest (the only algorithm we hash with). */
export function digestHex(digest: string): string {
  const colon = digest.indexOf(":");
  return digest.slice(colon + 1);
}

/** The algorithm of a digest, checked to be one we can compute. */
export function hashFor(digest: string): Hash {
  const algorithm = digest.slice(0, digest.indexOf(":"));
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw new AirgapError("UNSUPPORTED", `cannot verify digest algorithm "${algorithm}"`);
  }
  return createHash(algorithm);
}

/** Digest of bytes in memory, with the algorithm of `like` (sha256 by default). */
export function digestOf(data: Buffer | string, like = "sha256:"): string {
  const algorithm = like.startsWith("sha512:") ? "sha512" : "sha256";
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Verifies bytes in memory against a descriptor (size and digest); throws DIGEST_MISMATCH / SIZE_MISMATCH. */
export function verifyBytes(data: Buffer, d: Pick<Descriptor, "digest" | "size">, what: string): void {
  if (data.length !== d.size) {
    throw new AirgapError("SIZE_MISMATCH", `${what}: got ${data.length} bytes, want ${d.size}`);
  }
  const got = digestOf(data, d.digest);
  if (got !== d.digest) throw new AirgapError("DIGEST_MISMATCH", `${what}: digest mismatch after ${data.length} bytes: got ${got}, want ${d.digest}`);
}

/**
 * Transform that passes bytes through while checking size and digest; fails the pipeline on a mismatch. When it
 * checks the digest, its last chunk is held back until the digest is proved: whoever reads it (a registry that
 * does not check digests itself, a client of `serve`) never receives a wrong blob whole.
 */
export class VerifyingStream extends Transform {
  private readonly hash?: Hash;
  private seen = 0;
  private held?: Buffer;

  /**
   * @param expected the descriptor to check against
   * @param what names the blob in errors, e.g. `fetching gcr.io/x/y:v1 blob sha256:…`
   * @param onBytes called with the length of every chunk (progress)
   * @param sizeOnly check the size but not the digest: only for bytes a checksum over them already proved
   *   (a bundle whose .sha256 was just checked; the registry checks each digest again on upload)
   */
  constructor(
    private readonly expected: Pick<Descriptor, "digest" | "size">,
    private readonly what: string,
    private readonly onBytes?: (n: number) => void,
    sizeOnly = false,
  ) {
    super({ highWaterMark: 256 * 1024 });
    if (!sizeOnly) this.hash = hashFor(expected.digest);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.seen;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.size) {
      done(new AirgapError("SIZE_MISMATCH", `${this.what}: more than the expected ${this.expected.size} bytes`));
      return;
    }
    this.onBytes?.(chunk.length);
    if (!this.hash) return done(null, chunk);
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.seen !== this.expected.size) {
      done(new AirgapError("SIZE_MISMATCH", `${this.what}: got ${this.seen} bytes, want ${this.expected.size}`));
      return;
    }
    if (!this.hash) return done();
    const got = `${this.expected.digest.slice(0, this.expected.digest.indexOf(":"))}:${this.hash.digest("hex")}`;
    if (got !== this.expected.digest) {
      done(new AirgapError("DIGEST_MISMATCH", `${this.what}: digest mismatch after ${this.seen} bytes: got ${got}, want ${this.expected.digest}`));
      return;
    }
    done(null, this.held);
  }
}
