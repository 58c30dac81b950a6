/**
 * Registry errors: the server's diagnostics, capped, with URLs redacted (no credentials, no query).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes
 */
import type { Dispatcher } from "undici";
import { AirgapError, type ErrorCode } from "../errors.js";

/** Largest error body we read: the remote decides its size, so cap it. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Reads at most `cap` bytes of a response body; throws when there is more (the rest is discarded). */
export async function readCapped(body: Dispatcher.ResponseData["body"], cap: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > cap) {
      body.destroy();
      throw new AirgapError("REGISTRY", `${what}: response larger than the ${cap}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A URL fit for a message: no user info, no query (signed storage URLs carry secrets there). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(invalid URL)";
  }
}

/** Short text of the server's `{"errors":[{code,message}]}` body, or its first line. */
function diagnostics(body: Buffer): string {
  const text = body.toString("utf8");
  try {
    const json = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    if (Array.isArray(json.errors) && json.errors.length > 0) {
      return json.errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ").slice(0, 300);
    }
  } catch {
    // not JSON
  }
  const line = text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  return line.replace(/<[^>]*>/g, "").slice(0, 200);
}

/** Error code for an HTTP status. */
function codeFor(status: number): ErrorCode {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  if (status === 404) return "NOT_FOUND";
  return "REGISTRY";
}

/** Builds the error for an unexpected response, reading (a capped part of) its body. */
export async function responseError(what: string, res: Dispatcher.ResponseData, hint?: string): Promise<AirgapError> {
  let body: Buffer = Buffer.alloc(0);
  try {
    body = await readCapped(res.body, MAX_ERROR_BODY_BYTES, what);
  } catch {
    res.body.destroy();
  }
  const detail = diagnostics(body);
  return new AirgapError(codeFor(res.statusCode), `${what}: HTTP ${res.statusCode}${detail ? ` ${detail}` : ""}`, { status: res.statusCode, ...(hint && { hint }) });
}
