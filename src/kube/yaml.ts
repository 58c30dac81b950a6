/**
 * The one door to the two YAML libraries. `yaml` keeps every node's place in the text (the scanner needs it
 * to rewrite references byte for byte); js-yaml loads documents several times faster (the rewrite's proof and
 * the install plan, on files of thousands of lines). Both are kept for that reason (docs/architecture.md).
 *
 * Aliases are where YAML turns hostile: nine levels of ten aliases expand a 1 KB file into 10⁹ nodes. js-yaml
 * shares an alias's object, which looks harmless until anything walks or serialises the tree. So a text that
 * may hold an alias is loaded by `yaml` with a cap on alias expansion instead.
 */
import jsYaml from "js-yaml";
import { parseAllDocuments } from "yaml";
import { AirgapError } from "../errors.js";
import { invalidYaml } from "./yaml-error.js";

export { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Scalar } from "yaml";

/** Most alias nodes a document may expand to (yaml's own default; Kubernetes manifests use none or a few). */
export const MAX_ALIAS_EXPANSION = 100;

/** True when `text` may hold a YAML alias (`*name`); strings like `*.example.com` or cron lines do not count. */
export function mayHoldAliases(text: string): boolean {
  return /(^|[\s[{,:-])\*[^\s,[\]{}.*/]/m.test(text);
}

/** Loads every document of `text` as plain data (JSON types); throws INVALID_YAML naming `file` and the line. */
export function loadDocuments(text: string, file: string): unknown[] {
  if (!mayHoldAliases(text)) {
    try {
      return jsYaml.loadAll(text, null, { json: true });
    } catch (err) {
      const mark = (err as { mark?: { line?: number; column?: number } }).mark;
      throw invalidYaml(file, text, (err as Error).message, { ...(mark?.line !== undefined && { line: mark.line + 1 }), ...(mark?.column !== undefined && { column: mark.column + 1 }) });
    }
  }
  const docs = parseAllDocuments(text, { uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [];
  return list.map((doc) => {
    const error = doc.errors[0];
    if (error) throw invalidYaml(file, text, error.message, { ...(error.linePos?.[0] && { line: error.linePos[0].line, column: error.linePos[0].col }) });
    try {
      // yaml refuses when its count reaches the limit: one more lets exactly MAX_ALIAS_EXPANSION through.
      return doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION + 1 });
    } catch (err) {
      throw new AirgapError("INVALID_YAML", `${file}: YAML aliases expand too far (more than ${MAX_ALIAS_EXPANSION} alias nodes in one document); refusing it`, {
        hint: "a manifest that expands like this is an attack on the parser, not a manifest: check where the file came from",
        cause: err,
      });
    }
  });
}

/** One document as YAML text (block style, keys in their order, no anchors), ending with a newline. */
export function dumpDocument(value: unknown): string {
  return jsYaml.dump(value, { lineWidth: -1, noRefs: true });
}
