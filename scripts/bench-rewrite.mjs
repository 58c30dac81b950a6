#!/usr/bin/env node
// npm run bench:rewrite — how fast manifests are scanned and rewritten: a generated ~1 MB file of
// Deployments (and ConfigMaps holding JSON), scanned, rewritten, checked; median of 5 runs. Then the load of the
// same text as plain data (what the install plan and the rewrite's proof do) by each of the two YAML libraries,
// the measure that keeps both (docs/architecture.md, "One YAML door, two libraries").
import jsYaml from "js-yaml";
import { parseAllDocuments } from "yaml";
import { scanManifest } from "../dist/kube/scan.js";
import { rewriteManifest } from "../dist/kube/rewrite.js";
import { relativeTarget } from "../dist/reference/target.js";

const docs = [];
for (let i = 0; docs.join("---\n").length < 1_000_000; i++) {
  docs.push(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${i}
  labels: {app: app-${i}, tier: backend}
spec:
  replicas: 2
  template:
    spec:
      initContainers:
        - name: init
          image: "docker.io/library/busybox:1.36"
      containers:
        - name: main   # the service
          image: gcr.io/project-${i % 50}/service-${i}:v1.${i % 7}.0
          args: ["--port=8080", "--log-level=info"]
          env: [{name: MODE, value: production}, {name: PEERS, value: "a,b,c"}]
`);
  if (i % 10 === 0) docs.push(`kind: ConfigMap
metadata: {name: cfg-${i}}
data:
  predictors: |-
    {"tensorflow": {"image": "tensorflow/serving", "defaultImageVersion": "1.14.0"}, "sidecarImage": "gcr.io/x/sidecar-${i}:1"}
`);
}
const text = docs.join("---\n");
const times = [];
let findings = 0;
for (let run = 0; run < 5; run++) {
  const t0 = process.hrtime.bigint();
  const scan = scanManifest("big.yaml", text);
  rewriteManifest(scan, (f) => `{{REGISTRY}}/${relativeTarget(f.ref)}`);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  findings = scan.findings.length;
}
times.sort((a, b) => a - b);
console.log(`REWRITE ${(text.length / 1e6).toFixed(2)} MB manifest, ${findings} references: scan + rewrite + check median ${times[2].toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times[4].toFixed(0)}) = ${(text.length / 1e6 / (times[2] / 1000)).toFixed(1)} MB/s`);

/** Median milliseconds of five runs of `work`. */
function median5(work) {
  const ms = [];
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    work();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b)[2];
}
const fast = median5(() => jsYaml.loadAll(text, null, { json: true }));
const placed = median5(() => parseAllDocuments(text, { uniqueKeys: false }).map((d) => d.toJS({ maxAliasCount: 101 })));
console.log(`LOAD ${(text.length / 1e6).toFixed(2)} MB as data: js-yaml ${fast.toFixed(0)} ms, yaml ${placed.toFixed(0)} ms (yaml alone would take ${(placed / fast).toFixed(1)}x)`);
