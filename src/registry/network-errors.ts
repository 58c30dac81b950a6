/**
 * What went wrong on the wire, as errors in words: undici's codes become sentences, our own errors carried in a
 * request body are found again, and a URL in a message never shows credentials or a signed query.
 */
import { AirgapError } from "../errors.js";

export function isTlsProtocolError(err: unknown): boolean {
  const text = `${(err as { code?: string }).code ?? ""} ${(err as { cause?: { code?: string; message?: string } }).cause?.code ?? ""} ${(err as Error).message ?? ""} ${(err as { cause?: { message?: string } }).cause?.message ?? ""}`;
  return /EPROTO|WRONG_VERSION_NUMBER|ECONNRESET|packet length too long|UND_ERR_SOCKET/i.test(text);
}

/** What went wrong on the wire, in words (undici's codes are for programs). */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  const code = e.cause?.code ?? e.code;
  const words: Record<string, string> = {
    UND_ERR_HEADERS_TIMEOUT: "no answer in time",
    UND_ERR_BODY_TIMEOUT: "the answer stopped coming",
    UND_ERR_CONNECT_TIMEOUT: "could not connect in time",
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ENOTFOUND: "the name does not resolve",
    EAI_AGAIN: "the name does not resolve (DNS not answering)",
    ENETUNREACH: "network unreachable",
    EHOSTUNREACH: "host unreachable",
    UND_ERR_SOCKET: "connection broken",
  };
  return (code && words[code]) ?? code ?? e.cause?.message ?? e.message ?? "network error";
}

/** An AirgapError somewhere in an error's cause chain (e.g. thrown by a request body stream). */
export function ownError(err: unknown): AirgapError | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof AirgapError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function abortError(what: string): AirgapError {
  return new AirgapError("ABORTED", `${what}: cancelled`);
}

export function networkError(what: string, url: string, err: unknown): AirgapError {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  const code = e.cause?.code ?? e.code ?? "";
  let reason = describeNetworkError(err);
  let hint: string | undefined;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(`${code} ${e.cause?.message ?? ""} ${e.message ?? ""}`)) {
    reason = `TLS certificate not trusted (${code || e.message})`;
    hint = "pass --ca-file with the registry's CA, or --insecure-registry HOST to skip verification";
  } else if (code === "ECONNREFUSED") {
    hint = "is the registry running and the address right?";
  }
  return new AirgapError("NETWORK", `${what}: ${reason} (${redactUrl(url)})`, { cause: err, ...(hint && { hint }) });
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
