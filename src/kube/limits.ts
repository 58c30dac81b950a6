/**
 * Limits on manifest files, apart from the parsers (the command line reads them without loading a YAML library).
 */

/**
 * Largest manifest file read (`--max-manifest-size`). Parsing holds some 40 times a file's size in memory,
 * so a file a hundred megabytes long would exhaust the heap; Kubeflow's largest (its CRDs) are a few MB.
 */
export const DEFAULT_MAX_MANIFEST_BYTES = 32 * 1024 * 1024;
