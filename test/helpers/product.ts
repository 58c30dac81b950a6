/**
 * A Kubeflow-shaped product, generated: 38 images under real-world names across docker.io (library short names
 * and a tagless one among them), gcr.io, quay.io, ghcr.io, nvcr.io and mcr.microsoft.com, and manifests that name
 * them the ways real products do — Deployments, StatefulSets, a DaemonSet, a Job, a CronJob, init containers, env
 * values (`V2_DRIVER_IMAGE`), ConfigMaps holding JSON (`"image" : "…"` with spaces, as KServe's
 * inferenceservice-config) and YAML (Argo's executor), Knative's `queueSidecarImage`, a CRD default, a
 * digest-pinned multi-platform index, repository references beside a version; namespaces, RBAC, a CRD and a CR
 * of it, a PVC, Services. Every image really runs (Debian's busybox): a server answering a readiness probe, a
 * step that exits 0, or data for a pod that is never started.
 */
import { busyboxImage, makeImage, makeIndex, webServer, type TestArtifact, type TestImage } from "./images.js";

/** What an image does when a pod runs it. */
type Role = "serve" | "exit" | "data";

/** One image of the product: its name as the manifests write it, its normalised name, what it does. */
export interface ProductImage {
  /** As the imagelist lists it (short names stay short). */
  line: string;
  /** `host`, and the repository path and tag (the index is pinned by digest, filled in when made). */
  host: string;
  path: string;
  tag?: string;
  role: Role;
}

const IMAGES: ProductImage[] = [
  // docker.io, library short names and a tagless one among them
  { line: "busybox", host: "docker.io", path: "library/busybox", tag: "latest", role: "exit" },
  { line: "mysql:8.0.26", host: "docker.io", path: "library/mysql", tag: "8.0.26", role: "serve" },
  { line: "python:3.9", host: "docker.io", path: "library/python", tag: "3.9", role: "exit" },
  { line: "docker.io/istio/proxyv2:1.17.5", host: "docker.io", path: "istio/proxyv2", tag: "1.17.5", role: "serve" },
  { line: "docker.io/istio/pilot:1.17.5", host: "docker.io", path: "istio/pilot", tag: "1.17.5", role: "serve" },
  { line: "docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0", host: "docker.io", path: "kubeflownotebookswg/jupyter-scipy", tag: "v1.8.0", role: "data" },
  { line: "docker.io/kubeflownotebookswg/notebook-controller:v1.8.0", host: "docker.io", path: "kubeflownotebookswg/notebook-controller", tag: "v1.8.0", role: "serve" },
  { line: "kserve/kserve-controller:v0.11.2", host: "docker.io", path: "kserve/kserve-controller", tag: "v0.11.2", role: "serve" },
  { line: "kserve/sklearnserver:v0.11.2", host: "docker.io", path: "kserve/sklearnserver", tag: "v0.11.2", role: "data" },
  { line: "kserve/storage-initializer:v0.11.2", host: "docker.io", path: "kserve/storage-initializer", tag: "v0.11.2", role: "data" },
  { line: "kserve/agent:v0.11.2", host: "docker.io", path: "kserve/agent", tag: "v0.11.2", role: "data" },
  { line: "minio/minio:RELEASE.2019-08-14T20-37-41Z", host: "docker.io", path: "minio/minio", tag: "RELEASE.2019-08-14T20-37-41Z", role: "serve" },
  // gcr.io
  { line: "gcr.io/ml-pipeline/api-server:2.0.5", host: "gcr.io", path: "ml-pipeline/api-server", tag: "2.0.5", role: "serve" },
  { line: "gcr.io/ml-pipeline/frontend:2.0.5", host: "gcr.io", path: "ml-pipeline/frontend", tag: "2.0.5", role: "serve" },
  { line: "gcr.io/ml-pipeline/persistenceagent:2.0.5", host: "gcr.io", path: "ml-pipeline/persistenceagent", tag: "2.0.5", role: "exit" },
  { line: "gcr.io/ml-pipeline/scheduledworkflow:2.0.5", host: "gcr.io", path: "ml-pipeline/scheduledworkflow", tag: "2.0.5", role: "data" },
  { line: "gcr.io/ml-pipeline/cache-server:2.0.5", host: "gcr.io", path: "ml-pipeline/cache-server", tag: "2.0.5", role: "exit" },
  { line: "gcr.io/ml-pipeline/metadata-envoy:2.0.5", host: "gcr.io", path: "ml-pipeline/metadata-envoy", tag: "2.0.5", role: "exit" },
  { line: "gcr.io/ml-pipeline/kfp-driver:2.0.5", host: "gcr.io", path: "ml-pipeline/kfp-driver", tag: "2.0.5", role: "data" },
  { line: "gcr.io/ml-pipeline/kfp-launcher:2.0.5", host: "gcr.io", path: "ml-pipeline/kfp-launcher", tag: "2.0.5", role: "data" },
  { line: "gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0", host: "gcr.io", path: "tfx-oss-public/ml_metadata_store_server", tag: "1.14.0", role: "serve" },
  { line: "gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.10.1", host: "gcr.io", path: "knative-releases/knative.dev/serving/cmd/queue", tag: "v1.10.1", role: "data" },
  { line: "gcr.io/knative-releases/knative.dev/serving/cmd/controller:v1.10.1", host: "gcr.io", path: "knative-releases/knative.dev/serving/cmd/controller", tag: "v1.10.1", role: "serve" },
  { line: "gcr.io/knative-releases/knative.dev/serving/cmd/activator:v1.10.1", host: "gcr.io", path: "knative-releases/knative.dev/serving/cmd/activator", tag: "v1.10.1", role: "exit" },
  // quay.io
  { line: "quay.io/jetstack/cert-manager-controller:v1.12.2", host: "quay.io", path: "jetstack/cert-manager-controller", tag: "v1.12.2", role: "serve" },
  { line: "quay.io/jetstack/cert-manager-webhook:v1.12.2", host: "quay.io", path: "jetstack/cert-manager-webhook", tag: "v1.12.2", role: "exit" },
  { line: "quay.io/jetstack/cert-manager-cainjector:v1.12.2", host: "quay.io", path: "jetstack/cert-manager-cainjector", tag: "v1.12.2", role: "exit" },
  { line: "quay.io/argoproj/workflow-controller:v3.3.10", host: "quay.io", path: "argoproj/workflow-controller", tag: "v3.3.10", role: "serve" },
  { line: "quay.io/argoproj/argoexec:v3.3.10", host: "quay.io", path: "argoproj/argoexec", tag: "v3.3.10", role: "data" },
  { line: "quay.io/oauth2-proxy/oauth2-proxy:v7.4.0", host: "quay.io", path: "oauth2-proxy/oauth2-proxy", tag: "v7.4.0", role: "serve" },
  // ghcr.io
  { line: "ghcr.io/dexidp/dex:v2.36.0", host: "ghcr.io", path: "dexidp/dex", tag: "v2.36.0", role: "serve" },
  { line: "ghcr.io/kubeflow/katib/katib-controller:v0.16.0", host: "ghcr.io", path: "kubeflow/katib/katib-controller", tag: "v0.16.0", role: "serve" },
  { line: "ghcr.io/kubeflow/katib/katib-ui:v0.16.0", host: "ghcr.io", path: "kubeflow/katib/katib-ui", tag: "v0.16.0", role: "exit" },
  { line: "ghcr.io/kubeflow/katib/file-metrics-collector:v0.16.0", host: "ghcr.io", path: "kubeflow/katib/file-metrics-collector", tag: "v0.16.0", role: "data" },
  // nvcr.io, mcr.microsoft.com
  { line: "nvcr.io/nvidia/tritonserver:23.05-py3", host: "nvcr.io", path: "nvidia/tritonserver", tag: "23.05-py3", role: "data" },
  { line: "nvcr.io/nvidia/k8s-device-plugin:v0.14.1", host: "nvcr.io", path: "nvidia/k8s-device-plugin", tag: "v0.14.1", role: "serve" },
  { line: "mcr.microsoft.com/onnxruntime/server:v1.0.0", host: "mcr.microsoft.com", path: "onnxruntime/server", tag: "v1.0.0", role: "data" },
];

/** The digest-pinned multi-platform image (linux/amd64 runs; linux/arm64 is left out at save). */
const PINNED = { host: "docker.io", path: "library/postgres", role: "serve" as Role };

/** A step that says its name and exits 0. */
const exit = (name: string) => ({ entrypoint: ["/bin/busybox", "sh", "-c"], cmd: [`echo ${name}`] });

/** The product, made. */
export interface Product {
  /** Every image with what to push (an index for the pinned one), keyed by `host/path`. */
  images: Array<ProductImage & { artifact: TestArtifact }>;
  /** The imagelist's lines. */
  imagelist: string[];
  /** Manifest files by name. */
  manifests: Record<string, string>;
  /** The namespaces it creates. */
  namespaces: string[];
  /** The pinned index and the manifest of its linux/amd64 entry (what the cluster runs). */
  pinned: { reference: string; amd64: TestImage };
}

/** Makes the product. */
export async function kubeflowLike(): Promise<Product> {
  const images: Product["images"] = [];
  for (const i of IMAGES) {
    const name = `${i.host}/${i.path}`;
    images.push({ ...i, artifact: await busyboxImage(i.role === "serve" ? webServer(name) : exit(name)) });
  }
  const amd64 = await busyboxImage(webServer("postgres"));
  const index = makeIndex([amd64, makeImage({ seed: "product-postgres-arm64", platform: "linux/arm64/v8", layers: [2048] })]);
  const pinnedRef = `postgres@${index.index.digest}`;
  images.push({ line: pinnedRef, ...PINNED, tag: "16", artifact: index });
  const ref = (path: string) => {
    const i = images.find((x) => x.path === path)!;
    return i.line;
  };
  const ns = ["kubeflow", "kserve", "knative-serving", "cert-manager", "auth"];
  const probe = "        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}";
  const deployment = (name: string, namespace: string, image: string, extra: string[] = []) => [
    "apiVersion: apps/v1", "kind: Deployment", `metadata: {name: ${name}, namespace: ${namespace}, labels: {app: ${name}}}`, "spec:", "  replicas: 1",
    `  selector: {matchLabels: {app: ${name}}}`, "  template:", `    metadata: {labels: {app: ${name}}}`, "    spec:", ...extra,
    "      containers:", `      - name: ${name}`, `        image: ${image}`, probe,
  ].join("\n");
  const service = (name: string, namespace: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n  selector: {app: ${name}}\n  ports: [{port: 80, targetPort: 8080}]`;
  const statefulSet = (name: string, image: string, extra: string[] = []) => [
    "apiVersion: apps/v1", "kind: StatefulSet", `metadata: {name: ${name}, namespace: kubeflow}`, "spec:", `  serviceName: ${name}`,
    `  selector: {matchLabels: {app: ${name}}}`, "  template:", `    metadata: {labels: {app: ${name}}}`, "    spec:",
    "      containers:", `      - name: ${name}`, `        image: ${image}`, probe, ...extra,
  ].join("\n");
  const init = (image: string) => ["      initContainers:", "      - name: init", `        image: ${image}`];
  const docs = (...d: string[]) => `${d.join("\n---\n")}\n`;
  const manifests: Record<string, string> = {
    "00-namespaces.yaml": docs(...ns.map((n) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}`)),
    "01-notebook-crd.yaml": docs(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: notebooks.kubeflow.org}
spec:
  group: kubeflow.org
  scope: Namespaced
  names: {kind: Notebook, plural: notebooks, singular: notebook}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              image: {type: string, default: "${ref("kubeflownotebookswg/jupyter-scipy")}"}
              cpu: {type: string, default: "500m"}`, `apiVersion: kubeflow.org/v1
kind: Notebook
metadata: {name: team-notebook, namespace: kubeflow}
spec: {cpu: "1"}`),
    "02-rbac.yaml": docs(
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: pipeline-runner, namespace: kubeflow}",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: kubeflow-pipeline-runner}\nrules:\n- {apiGroups: [\"\"], resources: [pods, configmaps], verbs: [get, list, watch]}",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: kubeflow-pipeline-runner}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubeflow-pipeline-runner}\nsubjects: [{kind: ServiceAccount, name: pipeline-runner, namespace: kubeflow}]",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: notebook-editor, namespace: kubeflow}\nrules:\n- {apiGroups: [kubeflow.org], resources: [notebooks], verbs: [\"*\"]}",
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: notebook-editor, namespace: kubeflow}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: notebook-editor}\nsubjects: [{kind: ServiceAccount, name: default, namespace: kubeflow}]",
    ),
    "10-cert-manager.yaml": docs(
      deployment("cert-manager", "cert-manager", ref("jetstack/cert-manager-controller"), [
        ...init(ref("jetstack/cert-manager-webhook")), "      - name: cainjector", `        image: ${ref("jetstack/cert-manager-cainjector")}`,
      ]),
    ),
    "20-pipelines.yaml": docs(
      deployment("ml-pipeline", "kubeflow", ref("ml-pipeline/api-server"), init(ref("library/busybox"))).replace(probe, [probe, "        env:", `        - {name: V2_DRIVER_IMAGE, value: ${ref("ml-pipeline/kfp-driver")}}`, `        - {name: V2_LAUNCHER_IMAGE, value: "${ref("ml-pipeline/kfp-launcher")}"}`].join("\n")),
      service("ml-pipeline", "kubeflow"),
      deployment("ml-pipeline-ui", "kubeflow", ref("ml-pipeline/frontend"), init(ref("ml-pipeline/persistenceagent"))),
      deployment("metadata-grpc", "kubeflow", ref("tfx-oss-public/ml_metadata_store_server"), [...init(ref("ml-pipeline/metadata-envoy")), "      - name: cache", `        image: ${ref("ml-pipeline/cache-server")}`]),
      statefulSet("mysql", ref("library/mysql"), ["        volumeMounts: [{name: data, mountPath: /var/lib/mysql}]", "      volumes: [{name: data, emptyDir: {}}]"]),
      // Quoted, in flow style: as some charts write it.
      statefulSet("minio", `"${ref("minio/minio")}"`),
      `apiVersion: batch/v1
kind: Job
metadata: {name: cache-deployer, namespace: kubeflow}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: deploy, image: '${ref("library/python")}'}]`,
      `apiVersion: batch/v1
kind: CronJob
metadata: {name: scheduled-cleanup, namespace: kubeflow}
spec:
  schedule: "0 0 1 1 *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: cleanup
            image: ${ref("ml-pipeline/scheduledworkflow")}`,
      `apiVersion: v1
kind: ConfigMap
metadata: {name: workflow-controller-configmap, namespace: kubeflow}
data:
  config: |
    executor:
      image: ${ref("argoproj/argoexec")}
      imagePullPolicy: IfNotPresent
    containerRuntimeExecutor: emissary`,
      deployment("workflow-controller", "kubeflow", ref("argoproj/workflow-controller")),
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: minio-pvc, namespace: kubeflow}\nspec:\n  storageClassName: \"\"\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}",
    ),
    "30-kserve.yaml": docs(
      `apiVersion: v1
kind: ConfigMap
metadata: {name: inferenceservice-config, namespace: kserve}
data:
  predictors: |-
    {
        "sklearn": {"image" : "kserve/sklearnserver", "defaultImageVersion": "v0.11.2"},
        "triton": {"image" : "nvcr.io/nvidia/tritonserver", "defaultImageVersion": "23.05-py3"},
        "onnx": {"image" : "mcr.microsoft.com/onnxruntime/server", "defaultImageVersion": "v1.0.0"}
    }
  storageInitializer: |-
    {
        "image" : "${ref("kserve/storage-initializer")}",
        "memoryRequest": "100Mi"
    }
  agent: |-
    {
        "image" : "${ref("kserve/agent")}"
    }`,
      deployment("kserve-controller-manager", "kserve", ref("kserve/kserve-controller")),
      deployment("notebook-controller", "kubeflow", ref("kubeflownotebookswg/notebook-controller")),
    ),
    "40-knative.yaml": docs(
      `apiVersion: v1
kind: ConfigMap
metadata: {name: config-deployment, namespace: knative-serving}
data:
  queueSidecarImage: ${ref("knative-releases/knative.dev/serving/cmd/queue")}
  registriesSkippingTagResolving: "kind.local,ko.local,dev.local"`,
      deployment("controller", "knative-serving", ref("knative-releases/knative.dev/serving/cmd/controller"), init(ref("knative-releases/knative.dev/serving/cmd/activator"))),
      deployment("istiod", "knative-serving", ref("istio/pilot")),
      deployment("istio-ingressgateway", "knative-serving", ref("istio/proxyv2")),
    ),
    "50-auth.yaml": docs(
      deployment("dex", "auth", ref("dexidp/dex")),
      deployment("oauth2-proxy", "auth", ref("oauth2-proxy/oauth2-proxy")),
      deployment("katib-controller", "kubeflow", ref("kubeflow/katib/katib-controller"), init(ref("kubeflow/katib/katib-ui"))),
      `apiVersion: v1
kind: ConfigMap
metadata: {name: katib-config, namespace: kubeflow}
data:
  metrics-collector-sidecar: |
    {"File": {"image": "${ref("kubeflow/katib/file-metrics-collector")}"}}`,
    ),
    "60-node.yaml": docs(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: nvidia-device-plugin, namespace: kube-system}
spec:
  selector: {matchLabels: {app: nvidia-device-plugin}}
  template:
    metadata: {labels: {app: nvidia-device-plugin}}
    spec:
      containers:
      - name: plugin
        image: ${ref("nvidia/k8s-device-plugin")}
${probe}`, deployment("postgres", "kubeflow", pinnedRef)),
  };
  return {
    images,
    imagelist: images.map((i) => i.line),
    manifests,
    namespaces: ns,
    pinned: { reference: `docker.io/library/postgres@${index.index.digest}`, amd64 },
  };
}
