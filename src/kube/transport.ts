/**
 * One request to the Kubernetes API server, bounded: a deadline for the whole exchange (headers and body), a
 * cap on the body, and an answer cut short (fewer bytes than its Content-Length, a connection closed mid-body)
 * is an error — never a promise that never settles. The client library's own fetch (node-fetch 2) waits for
 * ever on a body whose connection closed early, so a hostile or broken API server made commands end 0 having
 * done nothing. TLS settings and credentials come in the `agent` and headers the kubeconfig gave.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { AirgapError } from "../errors.js";
import { stoppedBy } from "../util/deadline.js";
import { formatDuration } from "../util/duration.js";

/** Default deadline of one API request: 30 seconds for the answer, whole. */
export const DEFAULT_API_REQUEST_MS = 30_000;

/**
 * Largest API answer read: 256 MiB. The body's size is the server's to choose; a list of every pod of a big
 * cluster is tens of MB, and a server that sends more than this is not one to trust with memory.
 */
export const MAX_API_ANSWER_BYTES = 256 * 1024 * 1024;

/** One request as the client library describes it. */
export interface ApiRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  agent?: HttpAgent;
}

/** The whole answer. */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Bounds of one request. */
export interface ApiRequestBounds {
  /** The whole exchange's deadline, in milliseconds. */
  timeoutMs: number;
  /** The command's signal (Ctrl-C, its --timeout): aborts the request at once. */
  signal?: AbortSignal;
}

/** Sends one request and reads its whole answer within the bounds; throws KUBE_UNREACHABLE or ABORTED otherwise. */
export function sendApiRequest(req: ApiRequest, bounds: ApiRequestBounds): Promise<ApiAnswer> {
  const where = `${req.method} ${new URL(req.url).pathname}`;
  return new Promise<ApiAnswer>((resolve, reject) => {
    if (bounds.signal?.aborted) {
      reject(abortedError(bounds.signal));
      return;
    }
    let settled = false;
    const finish = (err: Error | undefined, answer?: ApiAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      bounds.signal?.removeEventListener("abort", onAbort);
      if (err) {
        outgoing.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const send = req.url.startsWith("https:") ? httpsRequest : httpRequest;
    const outgoing = send(req.url, { method: req.method, headers: req.headers, ...(req.agent && { agent: req.agent }) });
    const timer = setTimeout(
      () => finish(new AirgapError("KUBE_UNREACHABLE", `${where}: no whole answer within ${formatDuration(bounds.timeoutMs)}`, { hint: "the API server accepts connections but does not answer; check it, or the address in the kubeconfig" })),
      bounds.timeoutMs,
    );
    const onAbort = () => finish(abortedError(bounds.signal!));
    bounds.signal?.addEventListener("abort", onAbort, { once: true });
    outgoing.on("error", (err) => finish(networkError(where, err)));
    outgoing.on("response", (res: IncomingMessage) => {
      const expected = Number(res.headers["content-length"] ?? NaN);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_API_ANSWER_BYTES) finish(new AirgapError("KUBE_API", `${where}: the answer is larger than ${MAX_API_ANSWER_BYTES / 1024 / 1024} MiB; not read`));
        else chunks.push(chunk);
      });
      res.on("error", () => finish(cutShort(where, size, expected)));
      res.on("aborted", () => finish(cutShort(where, size, expected)));
      res.on("close", () => {
        if (!res.complete) finish(cutShort(where, size, expected));
      });
      res.on("end", () => {
        if (!res.complete || (Number.isFinite(expected) && size !== expected)) finish(cutShort(where, size, expected));
        else finish(undefined, { status: res.statusCode ?? 0, headers: flatHeaders(res), body: Buffer.concat(chunks) });
      });
    });
    outgoing.end(req.body);
  });
}

function cutShort(where: string, size: number, expected: number): AirgapError {
  const of = Number.isFinite(expected) ? ` of the ${expected} it announced` : "";
  return new AirgapError("KUBE_UNREACHABLE", `${where}: the API server's answer was cut short after ${size} bytes${of}`, {
    hint: "the connection closed in the middle of the answer; check the API server (or a proxy in front of it) and rerun",
  });
}

function networkError(where: string, err: Error & { code?: string }): AirgapError {
  if (err.code?.startsWith("HPE_")) {
    return new AirgapError("KUBE_UNREACHABLE", `${where}: the answer is not HTTP (${err.code})`, { cause: err, hint: "the address in the kubeconfig is not a Kubernetes API server's (or speaks HTTPS where http:// is written)" });
  }
  const code = err.code ? ` (${err.code})` : "";
  return new AirgapError("KUBE_UNREACHABLE", `${where}: ${err.message.split("\n")[0]}${err.message.includes(err.code ?? "\0") ? "" : code}`, { cause: err });
}

/** The error of a request stopped by the command's signal: its reason when it is ours (the --timeout), else "interrupted". */
export function abortedError(signal: AbortSignal): AirgapError {
  return stoppedBy(signal, "interrupted");
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
