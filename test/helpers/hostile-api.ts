/**
 * A hostile Kubernetes API server for the kube commands' bounds: it answers `GET /version` like a real one (so a
 * command gets past its first contact) unless told otherwise, and every request whose path matches `on` in one
 * of these ways: `cut` (Content-Length 100, 10 bytes, close), `silent` (accepts, never answers), `drip` (a
 * header, then a byte every 200 ms), `garbage` (not HTTP). Other requests get a JSON 404 Status. Plain HTTP on
 * 127.0.0.1; its kubeconfig skips TLS checks (there is no TLS).
 */
import { writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";

/** How the server misbehaves. */
export type HostileMode = "cut" | "silent" | "drip" | "garbage";

/** A running hostile API server. */
export interface HostileApi {
  /** A kubeconfig pointing at it. */
  kubeconfig: string;
  /** Request lines seen (`GET /version`). */
  requests: string[];
  stop(): Promise<void>;
}

const VERSION = JSON.stringify({ major: "1", minor: "34", gitVersion: "v1.34.4" });
const NOT_FOUND = JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "the server could not find the requested resource", reason: "NotFound", code: 404 });

function answer(socket: Socket, status: string, body: string): void {
  socket.write(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Starts the server; `on` picks the requests it misbehaves on (default: every one, /version too). */
export async function startHostileApi(dir: string, mode: HostileMode, on: RegExp = /./): Promise<HostileApi> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let pending = "";
    socket.on("data", (data) => {
      pending += data.toString("latin1");
      for (let end = pending.indexOf("\r\n\r\n"); end >= 0; end = pending.indexOf("\r\n\r\n")) {
        const head = pending.slice(0, end);
        const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        pending = pending.slice(end + 4 + length);
        const line = head.split("\r\n")[0]!.replace(/ HTTP\/1\.1$/, "");
        requests.push(line);
        const path = line.split(" ")[1] ?? "";
        if (!on.test(path)) {
          if (path === "/version") answer(socket, "200 OK", VERSION);
          else answer(socket, "404 Not Found", NOT_FOUND);
          continue;
        }
        if (mode === "cut") socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"kind":"A');
        else if (mode === "garbage") socket.end("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        else if (mode === "drip") {
          socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{");
          const t = setInterval(() => socket.write(" "), 200);
          timers.add(t);
          socket.on("close", () => clearInterval(t));
        }
        return; // silent: nothing, ever
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = join(dir, `hostile-${mode}-${port}.kubeconfig`);
  await writeFile(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: hostile, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      "contexts: [{name: hostile, context: {cluster: hostile, user: u}}]",
      "current-context: hostile",
      "users: [{name: u, user: {token: not-a-secret}}]",
      "",
    ].join("\n"),
  );
  return {
    kubeconfig,
    requests,
    stop: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
