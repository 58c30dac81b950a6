/** The one rule for which files are Kubernetes manifests: YAML or JSON by name (in a folder and in a bundle alike). */
export function isManifestFileName(name: string): boolean {
  return /\.(ya?ml|json)$/i.test(name);
}
