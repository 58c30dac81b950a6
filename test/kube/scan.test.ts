import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AirgapError } from "../../src/errors.js";
import { checkCoverage } from "../../src/kube/coverage.js";
import { listManifestFiles, scanManifestDir } from "../../src/kube/files.js";
import { renderRegistry, rewriteManifest } from "../../src/kube/rewrite.js";
import { findingName, scanManifest, type ImageFinding } from "../../src/kube/scan.js";
import { parseImagelist } from "../../src/reference/imagelist.js";
import { formatReference, parseReference } from "../../src/reference/reference.js";
import { parseRegistry, REGISTRY_PLACEHOLDER, relativeTarget, targetPath, targetReference } from "../../src/reference/target.js";

const D = "sha256:d066ae5b642885827506610ae25728d442ce11447b82df6e9cc4c174bb97ecb3";

/** name → [manifest text, expected findings as "path => normalised (kind)"] */
const SHAPES: Record<string, [string, string[]]> = {
  "containers, initContainers and ephemeralContainers of a Deployment": [
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox:1.36
      containers:
        - name: web
          image: nginx
          imagePullPolicy: Always
      ephemeralContainers:
        - name: debug
          image: gcr.io/distroless/base@${D}
`,
    [
      "spec.template.spec.initContainers[0].image => docker.io/library/busybox:1.36",
      "spec.template.spec.containers[0].image => docker.io/library/nginx:latest",
      `spec.template.spec.ephemeralContainers[0].image => gcr.io/distroless/base@${D}`,
    ],
  ],
  "a TFJob's replica pod templates": [
    `apiVersion: kubeflow.org/v1
kind: TFJob
spec:
  tfReplicaSpecs:
    PS:
      template:
        spec:
          containers:
            - name: tensorflow
              image: gcr.io/kubeflow-images-public/tf_operator:v1
    Worker:
      replicas: 2
      template:
        spec:
          containers:
            - name: tensorflow
              image: kubeflowkatib/mxnet-mnist:v1beta1-45c5727
`,
    [
      "spec.tfReplicaSpecs.PS.template.spec.containers[0].image => gcr.io/kubeflow-images-public/tf_operator:v1",
      "spec.tfReplicaSpecs.Worker.template.spec.containers[0].image => docker.io/kubeflowkatib/mxnet-mnist:v1beta1-45c5727",
    ],
  ],
  "a Notebook, a Knative Service and an InferenceService": [
    `apiVersion: kubeflow.org/v1
kind: Notebook
spec:
  template:
    spec:
      containers:
        - {name: nb, image: "gcr.io/kubeflow-images-public/tensorflow-2.1.0-notebook-cpu:1.0.0"}
---
apiVersion: serving.knative.dev/v1
kind: Service
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-samples/helloworld-go
---
apiVersion: serving.kubeflow.org/v1beta1
kind: InferenceService
spec:
  predictor:
    tensorflow:
      storageUri: gs://bucket/model
      image: tensorflow/serving:1.14.0
    containers:
      - name: kfserving-container
        image: kfserving/sklearnserver:v0.5.1
`,
    [
      "spec.template.spec.containers[0].image => gcr.io/kubeflow-images-public/tensorflow-2.1.0-notebook-cpu:1.0.0",
      "spec.template.spec.containers[0].image => gcr.io/knative-samples/helloworld-go:latest",
      "spec.predictor.tensorflow.image => docker.io/tensorflow/serving:1.14.0",
      "spec.predictor.containers[0].image => docker.io/kfserving/sklearnserver:v0.5.1",
    ],
  ],
  "keys ending in Image, and JSON held in a ConfigMap string with a repository reference": [
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: inferenceservice-config
data:
  queueSidecarImage: gcr.io/knative-releases/knative.dev/serving/cmd/queue@${D}
  predictors: |-
    {
        "tensorflow": {
            "image": "tensorflow/serving",
            "defaultImageVersion": "1.14.0",
            "defaultGpuImageVersion": "1.14.0-gpu"
        },
        "onnx": {"image": "mcr.microsoft.com/onnxruntime/server", "defaultImageVersion": "v1.0.0"}
    }
  storageInitializer: '{"image" : "kfserving/storage-initializer:v0.5.1", "memoryRequest": "100Mi"}'
`,
    [
      `data.queueSidecarImage => gcr.io/knative-releases/knative.dev/serving/cmd/queue@${D}`,
      "data.predictors>tensorflow.image => docker.io/tensorflow/serving (repository)",
      "data.predictors>onnx.image => mcr.microsoft.com/onnxruntime/server (repository)",
      "data.storageInitializer>image => docker.io/kfserving/storage-initializer:v0.5.1",
    ],
  ],
  "YAML held in strings: Katib trial templates, nested twice": [
    `apiVersion: v1
kind: ConfigMap
metadata: {name: trial-template}
data:
  defaultTrialTemplate.yaml: |-
    apiVersion: batch/v1
    kind: Job
    spec:
      template:
        spec:
          containers:
            - name: training-container
              image: docker.io/kubeflowkatib/mxnet-mnist:v1beta1-45c5727
              command: ["python3", "/opt/mxnet-mnist/mnist.py"]
  nested.yaml: |
    config: '{"image": "docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727"}'
---
apiVersion: kubeflow.org/v1beta1
kind: Experiment
spec:
  trialTemplate:
    trialSpec:
      yaml: |
        spec:
          template:
            spec:
              containers:
                - image: "docker.io/kubeflowkatib/enas-cnn-cifar10-cpu:v1beta1-45c5727"
`,
    [
      "data.defaultTrialTemplate.yaml>spec.template.spec.containers[0].image => docker.io/kubeflowkatib/mxnet-mnist:v1beta1-45c5727",
      "data.nested.yaml>config>image => docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727",
      "spec.trialTemplate.trialSpec.yaml>spec.template.spec.containers[0].image => docker.io/kubeflowkatib/enas-cnn-cifar10-cpu:v1beta1-45c5727",
    ],
  ],
  "trailing spaces, quoting styles, flow style, comments": [
    `kind: Pod
spec:
  containers:
    - image: mysql:5.6     # trailing spaces and a comment
    - image: 'mysql:8.0'
    - image: "mysql:8.0.27"   
    - {name: x, image: kfserving/agent:v0.5.1}
    - image:   tmaxcloudck/notebook-controller-go:b0.2.3
`,
    [
      "spec.containers[0].image => docker.io/library/mysql:5.6",
      "spec.containers[1].image => docker.io/library/mysql:8.0",
      "spec.containers[2].image => docker.io/library/mysql:8.0.27",
      "spec.containers[3].image => docker.io/kfserving/agent:v0.5.1",
      "spec.containers[4].image => docker.io/tmaxcloudck/notebook-controller-go:b0.2.3",
    ],
  ],
  "env values that name an image (Kubeflow Pipelines' V2_DRIVER_IMAGE), and only those": [
    `kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: api
          image: gcr.io/ml-pipeline/api-server:2.0.5
          env:
            - {name: V2_DRIVER_IMAGE, value: gcr.io/ml-pipeline/kfp-driver:2.0.5}
            - name: sidecarImage
              value: "quay.io/oauth2-proxy/oauth2-proxy:v7.4.0"
            - {name: IMAGE_PULL_POLICY, value: IfNotPresent}
            - {name: LOG_LEVEL, value: gcr.io/not/an:image}
`,
    [
      "spec.template.spec.containers[0].image => gcr.io/ml-pipeline/api-server:2.0.5",
      "spec.template.spec.containers[0].env[0].value => gcr.io/ml-pipeline/kfp-driver:2.0.5",
      "spec.template.spec.containers[0].env[1].value => quay.io/oauth2-proxy/oauth2-proxy:v7.4.0",
    ],
  ],
  "a CRD schema's image property with a default: the API server writes it into every CR that names none": [
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  versions:
    - schema:
        openAPIV3Schema:
          properties:
            spec:
              properties:
                image: {type: string, default: "docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0"}
                sidecarImage:
                  type: string
                  default: quay.io/oauth2-proxy/oauth2-proxy:v7.4.0
                size: {type: integer, default: 3}
`,
    [
      "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.image.default => docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0",
      "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.sidecarImage.default => quay.io/oauth2-proxy/oauth2-proxy:v7.4.0",
    ],
  ],
  "NOT references: CRD schemas, pull policies, paths and URLs, templates, empty values": [
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  versions:
    - schema:
        openAPIV3Schema:
          properties:
            image:
              description: "Image is the container image, e.g. gcr.io/x/y:1"
              type: string
            containers:
              type: array
              items:
                properties:
                  image: {type: string, description: Docker image name}
---
kind: Pod
spec:
  containers:
    - name: a
      image: "{{ .Values.image }}"
      imagePullPolicy: IfNotPresent
      workingDir: /usr/local/bin
      args: ["--url=http://example.com/a/b", "gcr.io/not/an:image-key"]
  volumes:
    - name: v
      hostPath: {path: /var/lib/docker}
`,
    [],
  ],
};

function describeFinding(f: ImageFinding): string {
  return `${f.path} => ${findingName(f)}${f.kind === "repository" ? " (repository)" : ""}`;
}

/** The target of a finding under a registry: the mapping a push would use. */
function expected(f: ImageFinding, registry: string): string {
  return f.kind === "repository" ? `${registry}/${targetPath(f.ref)}` : targetReference(f.ref, parseRegistry(registry));
}

describe("scanManifest: finds image references in real-world shapes", () => {
  for (const [name, [text, want]] of Object.entries(SHAPES)) {
    test(name, () => {
      const scan = scanManifest("m.yaml", text);
      assert.deepEqual(scan.findings.map(describeFinding), want);
      for (const f of scan.findings) {
        // The recorded place holds exactly the reference, and the line is its line.
        assert.equal(text.slice(f.start, f.end), f.raw);
        assert.equal(text.slice(0, f.start).split("\n").length, f.line);
      }
    });
  }

  test("a template expression under an image key is reported as ignored, not as a reference", () => {
    const scan = scanManifest("m.yaml", SHAPES["NOT references: CRD schemas, pull policies, paths and URLs, templates, empty values"]![0]);
    assert.deepEqual(scan.ignored.map((i) => [i.path, i.value]), [["spec.containers[0].image", "{{ .Values.image }}"]]);
  });

  test("a JSON manifest file", () => {
    const text = JSON.stringify({ kind: "Pod", spec: { containers: [{ name: "a", image: "redis:7" }] } }, null, 2);
    assert.deepEqual(scanManifest("pod.json", text).findings.map(describeFinding), ["spec.containers[0].image => docker.io/library/redis:7"]);
  });

  test("invalid YAML is an error naming the file and line", () => {
    assert.throws(
      () => scanManifest("bad.yaml", "kind: Pod\nspec:\n  containers:\n    - image: [unclosed\n"),
      (err: unknown) => err instanceof AirgapError && err.code === "INVALID_YAML" && /^bad\.yaml:\d+:\d+: invalid YAML/.test(err.message),
    );
  });
});

describe("rewrite: only the references change", () => {
  const registry = "10.0.0.5:5000/ai-devops";
  for (const [name, [text]] of Object.entries(SHAPES)) {
    test(`round trip: ${name}`, () => {
      const scan = scanManifest("m.yaml", text);
      const template = rewriteManifest(scan, (f) =>
        f.kind === "repository" ? `${REGISTRY_PLACEHOLDER}/${targetPath(f.ref)}` : `${REGISTRY_PLACEHOLDER}/${relativeTarget(f.ref)}`,
      );
      const rendered = renderRegistry(template.text, registry);
      const again = scanManifest("m.yaml", rendered);
      assert.equal(again.findings.length, scan.findings.length);
      let restored = "";
      let at = 0;
      again.findings.forEach((f, i) => {
        const original = scan.findings[i]!;
        assert.equal(f.path, original.path);
        assert.equal(f.raw, expected(original, registry), `${f.path} points at the target of ${original.raw}`);
        restored += rendered.slice(at, f.start) + original.raw;
        at = f.end;
      });
      restored += rendered.slice(at);
      assert.equal(restored, text, "every other byte is unchanged");
    });
  }

  test("JSON inside a string stays JSON, with its own indentation", () => {
    const text = SHAPES["keys ending in Image, and JSON held in a ConfigMap string with a repository reference"]![0];
    const out = rewriteManifest(scanManifest("m.yaml", text), (f) => expected(f, "reg.local"));
    assert.match(out.text, /\n {12}"image": "reg\.local\/docker\.io\/tensorflow\/serving",\n/);
    assert.match(out.text, /'\{"image" : "reg\.local\/docker\.io\/kfserving\/storage-initializer:v0\.5\.1", "memoryRequest": "100Mi"\}'/);
  });

  test("a rewrite that would change the structure is refused", () => {
    const scan = scanManifest("m.yaml", "kind: Pod\nspec:\n  containers:\n    - image: nginx:1\n");
    assert.throws(() => rewriteManifest(scan, () => "nginx:1\n    - image: evil:2"), /would change more than image references/);
    assert.throws(() => rewriteManifest(scan, () => "nginx:1 # a comment"), /would change more than image references/);
  });

  test("pinning a digest keeps the tag: name:tag@sha256", () => {
    const scan = scanManifest("m.yaml", "kind: Pod\nspec:\n  containers:\n    - image: mysql:8.0\n");
    const out = rewriteManifest(scan, (f) => `${REGISTRY_PLACEHOLDER}/${relativeTarget({ ...f.ref, digest: D })}`);
    assert.equal(out.text, `kind: Pod\nspec:\n  containers:\n    - image: {{REGISTRY}}/docker.io/library/mysql:8.0@${D}\n`);
  });
});

describe("coverage: images the manifests use that the imagelist lacks", () => {
  const list = parseImagelist(
    ["docker.io/kubeflowkatib/mxnet-mnist:v1beta1-45c5727", "nginx:1.25", `mysql@${D}`, "tensorflow/serving:1.14.0", "tensorflow/serving:1.14.0-gpu", "redis:7"].join("\n"),
    "imagelist",
  );
  const findings = scanManifest(
    "m.yaml",
    `kind: Pod
spec:
  containers:
    - image: kubeflowkatib/mxnet-mnist:latest
    - image: nginx:1.25
    - image: mysql:8.0
    - image: quay.io/other/nginx:2
    - image: mysql@${D}
---
kind: ConfigMap
data:
  cfg: '{"image": "tensorflow/serving", "version": "1.14.0"}'
`,
  ).findings;

  test("lists each missing reference with the nearest entry", () => {
    const c = checkCoverage(findings, list.entries);
    assert.deepEqual(
      c.missing.map((m) => [m.finding.line, m.name, m.nearest?.normalized]),
      [
        [4, "docker.io/kubeflowkatib/mxnet-mnist:latest", "docker.io/kubeflowkatib/mxnet-mnist:v1beta1-45c5727"],
        [6, "docker.io/library/mysql:8.0", `docker.io/library/mysql@${D}`],
        [7, "quay.io/other/nginx:2", "docker.io/library/nginx:1.25"],
      ],
    );
  });

  test("a repository reference uses every tag of its repository; unused entries are reported", () => {
    const c = checkCoverage(findings, list.entries);
    const repo = findings.find((f) => f.kind === "repository")!;
    assert.deepEqual(c.uses.get(repo)?.map((e) => e.normalized), ["docker.io/tensorflow/serving:1.14.0", "docker.io/tensorflow/serving:1.14.0-gpu"]);
    assert.deepEqual(c.unused.map((e) => e.normalized), ["docker.io/kubeflowkatib/mxnet-mnist:v1beta1-45c5727", "docker.io/library/redis:7"]);
  });

  test("a digest reference matches only that digest", () => {
    const c = checkCoverage(findings, list.entries);
    const pinned = findings.find((f) => f.ref.digest === D)!;
    assert.deepEqual(c.uses.get(pinned)?.map((e) => formatReference(e.ref)), [`docker.io/library/mysql@${D}`]);
    assert.equal(formatReference(parseReference("mysql:8.0")), "docker.io/library/mysql:8.0");
  });
});

describe("manifest files", () => {
  test("are read in natural order (1, 2, …, 10, 11), YAML and JSON only, recursively", async () => {
    const dir = await mkdtemp(join(tmpdir(), "airgap-files-"));
    try {
      for (const f of ["10.tfjob.yaml", "2.katib.yml", "1.ns.yaml", "11.x.json", "README.md", "sub/3.a.yaml", ".hidden.yaml"]) {
        await mkdir(join(dir, f, ".."), { recursive: true });
        await writeFile(join(dir, f), "kind: ConfigMap\n");
      }
      assert.deepEqual(await listManifestFiles(dir, true), ["1.ns.yaml", "2.katib.yml", "10.tfjob.yaml", "11.x.json", "sub/3.a.yaml"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a file that is not UTF-8 is refused rather than rewritten", async () => {
    const dir = await mkdtemp(join(tmpdir(), "airgap-files-"));
    try {
      await writeFile(join(dir, "latin1.yaml"), Buffer.from([0x6b, 0x3a, 0x20, 0xe9, 0x0a]));
      await assert.rejects(scanManifestDir(dir, true), /latin1\.yaml: not UTF-8 text/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
