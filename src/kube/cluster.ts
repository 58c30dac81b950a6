/**
 * The Kubernetes API as install and uninstall use it: the only file that imports @kubernetes/client-node.
 * Server-side apply (PATCH application/apply-patch+yaml), create, read, list and delete of any kind, with
 * discovery (which kinds exist, which are namespaced) done by the client library.
 * https://kubernetes.io/docs/reference/using-api/server-side-apply/
 */
import { spawn, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  ApiException, CoreV1Api, HttpMethod, KubeConfig, KubernetesObjectApi, PatchStrategy, ResponseContext, ServerConfiguration, VersionApi,
  createConfiguration, wrapHttpLibrary, type KubernetesObject, type RequestContext,
} from "@kubernetes/client-node";
import { AirgapError } from "../errors.js";
import { formatDuration } from "../util/duration.js";
import type { KubeObject } from "./object.js";
import { abortedError, DEFAULT_API_REQUEST_MS, sendApiRequest } from "./transport.js";

/** The field manager our applies own their fields as. */
export const FIELD_MANAGER = "airgap-bundle";

/** Where to find the cluster. */
export interface ClusterOptions {
  /** `--kubeconfig`; else `KUBECONFIG`, `~/.kube/config`, or the in-cluster service account. */
  kubeconfig?: string;
  /** `--context`; else the kubeconfig's current context. */
  context?: string;
  /** The command's signal (Ctrl-C, the command's --timeout): every request and credential plugin stops with it. */
  signal?: AbortSignal;
  /** Deadline of one request, credentials included (default {@link DEFAULT_API_REQUEST_MS}). */
  requestTimeoutMs?: number;
}

/** What an apply did to an object. */
export type ApplyOutcome = "created" | "configured" | "unchanged";

/** The operations install, wait and uninstall need. */
export interface Cluster {
  /** The API server's address, for messages. */
  readonly server: string;
  /** The namespace of namespaced objects that name none (the context's, else `default`). */
  readonly defaultNamespace: string;
  /** Checks that the API server answers; throws KUBE_UNREACHABLE otherwise. */
  ping(): Promise<string>;
  /** Whether the kind is namespaced, or undefined when the API server does not serve it (yet). */
  scope(apiVersion: string, kind: string): Promise<"namespaced" | "cluster" | undefined>;
  /** The kind's resource (plural) name and scope, from discovery; undefined when the server does not serve it. */
  resource(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean } | undefined>;
  /** Server-side apply as {@link FIELD_MANAGER}; `force` takes over fields other managers own. */
  apply(object: KubeObject, force: boolean): Promise<ApplyOutcome>;
  /** Creates an object (for `generateName`); returns it with the name the server chose. */
  create(object: KubeObject): Promise<KubeObject>;
  /** Reads one object; undefined when it does not exist. */
  get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubeObject | undefined>;
  /** Lists objects of a kind, optionally in a namespace and matching a label selector (`a=b,c=d`). */
  list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeObject[]>;
  /** Deletes an object (dependents in the background); "absent" when it was not there. */
  delete(object: KubeObject): Promise<"deleted" | "absent">;
  /** The last lines a pod's container wrote (the kubelet's log, read through the API server); undefined when none can be had. */
  podLog(namespace: string, pod: string, container: string, lines: number): Promise<string | undefined>;
}

/** KubernetesObjectApi with its discovery lookup made reachable. */
class ObjectApi extends KubernetesObjectApi {
  async kindInfo(apiVersion: string, kind: string): Promise<{ namespaced: boolean; name: string } | undefined> {
    try {
      return await this.resource(apiVersion, kind);
    } catch (err) {
      // A group/version the server does not serve (yet: a CRD not Established) answers 404.
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  useDefaultNamespaceOf(kc: KubeConfig): string {
    return this.setDefaultNamespace(kc);
  }

  /**
   * Server-side apply (or create) of the object exactly as written. The library's own `patch`/`create`
   * pass objects of built-in kinds through its typed models, which silently drop every field the models do
   * not know (a newer API field, a typo the server would reject); the API server must see what the manifest says.
   */
  async sendAsWritten(object: KubernetesObject, how: "apply" | "create", force = false): Promise<KubernetesObject> {
    const path = await this.specUriPath(object, how === "apply" ? "patch" : "create");
    const request = this.configuration.baseServer.makeRequestContext(path, how === "apply" ? HttpMethod.PATCH : HttpMethod.POST);
    request.setHeaderParam("Accept", "application/json, */*;q=0.8");
    request.setHeaderParam("Content-Type", how === "apply" ? PatchStrategy.ServerSideApply : "application/json");
    request.setQueryParam("fieldManager", FIELD_MANAGER);
    if (how === "apply") request.setQueryParam("force", String(force));
    request.setBody(JSON.stringify(object));
    return this.requestPromise(request);
  }
}

/** Loads the kubeconfig and returns the cluster it names (nothing is contacted yet). */
export function connectCluster(options: ClusterOptions): Cluster {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else if (process.env.KUBECONFIG || existsSync(join(homedir(), ".kube", "config"))) kc.loadFromDefault();
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else {
      throw new AirgapError("NO_KUBECONFIG", "no Kubernetes cluster configured: no --kubeconfig, no KUBECONFIG, no ~/.kube/config, and not running in a pod", {
        hint: "pass --kubeconfig FILE",
      });
    }
  } catch (err) {
    if (err instanceof AirgapError) throw err;
    throw new AirgapError("NO_KUBECONFIG", `cannot read the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ""}: ${firstLine(err)}`, { cause: err, hint: "pass --kubeconfig FILE" });
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new AirgapError("INVALID_ARGUMENT", `--context ${options.context}: no such context in the kubeconfig (it has: ${known.join(", ") || "none"})`);
    }
    kc.setCurrentContext(options.context);
  }
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new AirgapError("KUBE_UNREACHABLE", "the kubeconfig's current context names no cluster", { hint: "pick one with --context NAME" });
  refuseLegacyCommands(kc);
  const bounds = { timeoutMs: options.requestTimeoutMs ?? DEFAULT_API_REQUEST_MS, ...(options.signal && { signal: options.signal }) };
  const configuration = boundedConfiguration(kc, server, bounds);
  const api = new ObjectApi(configuration);
  const defaultNamespace = api.useDefaultNamespaceOf(kc);
  const version = new VersionApi(configuration);
  return new ClientNodeCluster(server, defaultNamespace || "default", api, version, new CoreV1Api(configuration));
}

/**
 * The client library's configuration with our transport ({@link sendApiRequest}: a deadline per request, a
 * capped body, a cut-short answer an error) and the kubeconfig's credentials bounded by the same deadline: an
 * exec credential plugin that never returns is killed when the request's time is up.
 */
function boundedConfiguration(kc: KubeConfig, server: string, bounds: { timeoutMs: number; signal?: AbortSignal }) {
  boundExecPlugins(kc, bounds);
  const credentials = {
    getName: () => "kubeconfig, bounded",
    applySecurityAuthentication: (context: RequestContext) => withinBounds(kc.applySecurityAuthentication(context).catch((err: unknown) => {
      throw credentialError(kc, err);
    }), bounds, credentialWords(kc)),
  };
  const transport = wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      const body = request.getBody();
      if (body !== undefined && typeof body !== "string") throw new AirgapError("INTERNAL", "an API request with a form body");
      const answer = await sendApiRequest(
        { url: request.getUrl(), method: request.getHttpMethod().toString(), headers: request.getHeaders(), ...(body !== undefined && { body }), ...(request.getAgent() && { agent: request.getAgent() as never }) },
        bounds,
      );
      return new ResponseContext(answer.status, answer.headers, { text: () => Promise.resolve(answer.body.toString("utf8")), binary: () => Promise.resolve(answer.body) });
    },
  });
  return createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: credentials }, httpApi: transport });
}

/**
 * A credential the kubeconfig names but that cannot be had — a client certificate or key file that is not there,
 * a plugin that fails — said as that (exit 2), not as an API server that does not answer.
 */
function credentialError(kc: KubeConfig, err: unknown): AirgapError {
  if (err instanceof AirgapError) return err;
  const e = err as NodeJS.ErrnoException;
  const user = kc.getCurrentUser()?.name ?? "?";
  const what = e.path ? `cannot read ${e.path} (${e.code ?? e.message})` : firstLine(err);
  return new AirgapError("NO_KUBECONFIG", `the kubeconfig's user ${user}: ${what}`, { cause: err, hint: "fix the user's client-certificate, client-key or exec entry in the kubeconfig, or pick another with --context" });
}

/** What the kubeconfig runs for credentials, for messages. */
function credentialWords(kc: KubeConfig): string {
  const exec = kc.getCurrentUser()?.exec as { command?: string } | undefined;
  return exec?.command ? `the credential plugin ${exec.command}` : "reading the kubeconfig's credentials";
}

/** Settles with `work` unless the deadline or the command's signal comes first. */
function withinBounds<T>(work: Promise<T>, bounds: { timeoutMs: number; signal?: AbortSignal }, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AirgapError("KUBE_UNREACHABLE", `${what} did not answer within ${formatDuration(bounds.timeoutMs)}`, { hint: "check the kubeconfig's user (its exec command)" })), bounds.timeoutMs);
    const onAbort = () => reject(abortedError(bounds.signal!));
    bounds.signal?.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      bounds.signal?.removeEventListener("abort", onAbort);
    });
  });
}

/**
 * The library runs an exec credential plugin with `spawn` and waits for it to close, with no time limit. Its
 * ExecAuth keeps that function as a field (`execFn`, private in the typings): give it one that starts the plugin
 * in a process group of its own and kills the group when a request's time is up or the command stops, so a
 * plugin that never returns (or a script's child) neither holds the command nor outlives it.
 */
function boundExecPlugins(kc: KubeConfig, bounds: { timeoutMs: number; signal?: AbortSignal }): void {
  const authenticators = (kc as unknown as { authenticators?: Array<{ execFn?: unknown }> }).authenticators ?? [];
  const boundedSpawn = (command: string, args: string[] | undefined, opts: SpawnOptions) => {
    const child = spawn(command, args ?? [], { ...opts, detached: true });
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    };
    const timer = setTimeout(kill, bounds.timeoutMs);
    bounds.signal?.addEventListener("abort", kill, { once: true });
    child.once("close", () => {
      clearTimeout(timer);
      bounds.signal?.removeEventListener("abort", kill);
    });
    return child;
  };
  for (const a of authenticators) if (typeof a.execFn === "function") a.execFn = boundedSpawn;
}

/**
 * The legacy `auth-provider` with a `cmd-path` (gcp) runs a command to refresh a token — synchronously, with no
 * bound, and removed from kubectl, which refuses it. Refuse it too rather than run it silently.
 */
function refuseLegacyCommands(kc: KubeConfig): void {
  const provider = kc.getCurrentUser()?.authProvider as { name?: string; config?: Record<string, unknown> } | undefined;
  if (provider?.config?.["cmd-path"] !== undefined) {
    throw new AirgapError("NO_KUBECONFIG", `the kubeconfig's user ${kc.getCurrentUser()!.name} uses the removed auth-provider "${provider.name ?? "?"}" with a cmd-path command; it is not run`, {
      hint: "use an exec credential plugin (users[].user.exec), as current kubectl requires",
    });
  }
}

class ClientNodeCluster implements Cluster {
  constructor(
    readonly server: string,
    readonly defaultNamespace: string,
    private readonly api: ObjectApi,
    private readonly version: VersionApi,
    private readonly core: CoreV1Api,
  ) {}

  async ping(): Promise<string> {
    try {
      const info = await this.version.getCode();
      return info.gitVersion;
    } catch (err) {
      if (err instanceof AirgapError && (err.code === "ABORTED" || err.code === "TIMED_OUT" || err.code === "NO_KUBECONFIG")) throw err;
      throw new AirgapError("KUBE_UNREACHABLE", `no Kubernetes API server answers at ${this.server}: ${apiMessage(err)}`, {
        hint: "check the kubeconfig and --context",
        cause: err,
      });
    }
  }

  async resource(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean } | undefined> {
    const info = await this.call(`looking up ${kind} (${apiVersion})`, () => this.api.kindInfo(apiVersion, kind));
    return info === undefined ? undefined : { plural: info.name, namespaced: info.namespaced };
  }

  async scope(apiVersion: string, kind: string): Promise<"namespaced" | "cluster" | undefined> {
    const info = await this.call(`looking up ${kind} (${apiVersion})`, () => this.api.kindInfo(apiVersion, kind));
    return info === undefined ? undefined : info.namespaced ? "namespaced" : "cluster";
  }

  async apply(object: KubeObject, force: boolean): Promise<ApplyOutcome> {
    const md = object.metadata;
    const before = await this.get(object.apiVersion, object.kind, md.name!, md.namespace);
    const after = await this.call(`applying ${object.kind} ${md.name}`, () => this.api.sendAsWritten(object as KubernetesObject, "apply", force));
    if (!before) return "created";
    if (before.metadata.resourceVersion === after.metadata?.resourceVersion) return "unchanged";
    // A new resourceVersion whose only change is the API server's record of field owners (a Namespace's second
    // apply records them) changed nothing of the object: said as unchanged, not as configured.
    return sameBesidesBookkeeping(before, after as KubeObject) ? "unchanged" : "configured";
  }

  async create(object: KubeObject): Promise<KubeObject> {
    return (await this.call(`creating ${object.kind} ${object.metadata.generateName ?? object.metadata.name}`, () => this.api.sendAsWritten(object as KubernetesObject, "create"))) as KubeObject;
  }

  async get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
    try {
      return (await this.api.read({ apiVersion, kind, metadata: { name, ...(namespace && { namespace }) } })) as KubeObject;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw this.failure(`reading ${kind} ${name}`, err);
    }
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeObject[]> {
    const res = await this.call(`listing ${kind}`, () => this.api.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector));
    return res.items as KubeObject[];
  }

  async delete(object: KubeObject): Promise<"deleted" | "absent"> {
    try {
      await this.api.delete(object as KubernetesObject, undefined, undefined, undefined, undefined, "Background");
      return "deleted";
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return "absent";
      throw this.failure(`deleting ${object.kind} ${object.metadata.name}`, err);
    }
  }

  async podLog(namespace: string, pod: string, container: string, lines: number): Promise<string | undefined> {
    // A log is a courtesy in a report: a node that cannot be reached, or a container that wrote nothing, is no error.
    const text = await this.core.readNamespacedPodLog({ name: pod, namespace, container, tailLines: lines }).catch(() => undefined);
    return text === undefined || text === "" ? undefined : String(text);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  private failure(what: string, err: unknown): AirgapError {
    if (err instanceof AirgapError) {
      // The library's discovery prefixes what it rethrows ("Failed to fetch resource metadata for v1/X: "); ours say enough.
      const bare = err.message.replace(/^(Failed to fetch resource metadata for [^:]+: )+/, "");
      // The transport's errors say which request failed; add what it was for. A stop (Ctrl-C, --timeout) is said as it is.
      const message = err.code === "KUBE_UNREACHABLE" || err.code === "KUBE_API" ? `${what}: ${bare}` : bare;
      return message === err.message ? err : new AirgapError(err.code, message, { ...(err.hint !== undefined && { hint: err.hint }), cause: err });
    }
    if (err instanceof ApiException) {
      return new AirgapError("KUBE_API", `${what}: ${apiMessage(err)}`, { cause: err, status: err.code });
    }
    return new AirgapError("KUBE_UNREACHABLE", `${what}: ${this.server} did not answer: ${firstLine(err)}`, { cause: err });
  }
}

/** The API server's own message (a Status object's `message`), else the HTTP code; capped to one line. */
function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = typeof err.body === "string" ? safeJson(err.body) : err.body;
    const message = typeof body === "object" && body !== null ? (body as { message?: unknown }).message : undefined;
    return typeof message === "string" && message !== "" ? `${message.split("\n")[0]!.slice(0, 500)} (HTTP ${err.code})` : `HTTP ${err.code}`;
  }
  return firstLine(err);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function firstLine(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  const msg = (e.message ?? String(err)).split("\n")[0]!;
  return cause && !msg.includes(cause) ? `${msg} (${cause})` : msg;
}

/**
 * What a manifest says of an object: its labels, annotations and everything beside metadata and status — not
 * what the API server keeps for itself on every write (field owners, versions, times). Through JSON, so a
 * version read through the library's models (dates as Date objects) compares with one read as it came.
 */
function withoutBookkeeping(o: KubeObject): unknown {
  const { metadata, status: _status, ...rest } = o as KubeObject & { status?: unknown };
  return JSON.parse(JSON.stringify({ ...rest, labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} })) as unknown;
}

/** Whether two versions of an object differ only in the API server's bookkeeping. */
function sameBesidesBookkeeping(before: KubeObject, after: KubeObject): boolean {
  return stableJson(withoutBookkeeping(before)) === stableJson(withoutBookkeeping(after));
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
