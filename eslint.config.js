// ESLint flat config: the recommended JS rules plus typescript-eslint's recommended rules, and the layering of
// docs/architecture.md ("may import"): a file of src/X that imports a folder X may not use fails `npm run lint`.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** The folders under src/ each folder may import (besides itself and src/errors.ts); cli may import them all. */
const MAY_IMPORT = {
  ops: ["bundle", "charts", "content", "registry", "serve", "layout", "archive", "daemon", "kube", "oci", "reference", "util"],
  charts: ["kube", "oci", "reference", "util"],
  bundle: ["content", "oci", "reference", "layout", "util"],
  content: ["oci", "reference", "util"],
  registry: ["content", "oci", "reference", "util"],
  serve: ["bundle", "content", "oci", "reference", "util"],
  layout: ["content", "oci", "reference", "util"],
  archive: ["content", "oci", "reference", "layout", "util"],
  daemon: ["archive", "content", "layout", "oci", "reference", "util"],
  kube: ["reference", "util"],
  oci: ["reference", "util"],
  reference: ["util"],
  util: [],
};
const FOLDERS = ["cli", ...Object.keys(MAY_IMPORT)];

/** One config block per folder: imports of the folders it may not use are errors, naming the rule's source. */
const layering = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    "no-restricted-imports": ["error", {
      patterns: [{
        group: FOLDERS.filter((f) => f !== folder && !allowed.includes(f)).map((f) => `../${f}/*`),
        message: `src/${folder} may import only ${allowed.length > 0 ? allowed.join(", ") : "nothing of ours"} (docs/architecture.md, "may import")`,
      }],
    }],
  },
}));

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bundles/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", AbortController: "readonly", AbortSignal: "readonly", TextDecoder: "readonly", TextEncoder: "readonly", setInterval: "readonly", clearInterval: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": ["error"],
    },
  },
  ...layering,
  {
    // Only the CLI prints; tests and scripts may too.
    files: ["src/cli/**", "test/**", "scripts/**"],
    rules: { "no-console": "off" },
  },
);
