#!/usr/bin/env -S node --import tsx
/** The simulated nodes of `npm run cluster:up`, as a background process: node-agent.mts CLUSTER_DIR URL. */
import { join } from "node:path";
import { adminApi } from "../../test/helpers/control-plane.js";
import { startNodeAgent } from "../../test/helpers/node-agent.js";

const [dir, url] = process.argv.slice(2);
if (!dir || !url) throw new Error("usage: node-agent.mts CLUSTER_DIR URL");
await startNodeAgent({ api: await adminApi(url, join(dir, "pki")) });
process.stdout.write(`node agent: node-1 registered at ${url}\n`);
