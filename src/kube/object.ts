/**
 * A Kubernetes object as a manifest writes it, and how it is named in messages. No dependencies: the
 * install's wait and output need these names without loading a YAML parser.
 */

/** A Kubernetes object as written in a manifest. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** `Kind/namespace/name` (or `Kind/name` for cluster objects; `generateName` shows as `prefix*`). */
export function objectKey(o: KubeObject, namespace = o.metadata.namespace): string {
  const name = o.metadata.name ?? `${o.metadata.generateName ?? ""}*`;
  return namespace ? `${o.kind}/${namespace}/${name}` : `${o.kind}/${name}`;
}

/** The API group of an apiVersion (`apps/v1` → `apps`, `v1` → ``). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
