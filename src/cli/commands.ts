/**
 * Every command of the CLI, in the order `bundle --help` lists them.
 */
import type { CommandSpec } from "./command.js";
import { diffCommand } from "./commands/diff.js";
import { exportCommand } from "./commands/export.js";
import { helmPostRenderCommand } from "./commands/helm-post-render.js";
import { imagesCommand } from "./commands/images.js";
import { inspectCommand } from "./commands/inspect.js";
import { inventoryCommand } from "./commands/inventory.js";
import { keyCommand } from "./commands/key.js";
import { installCommand } from "./commands/install.js";
import { loadCommand } from "./commands/load.js";
import { nodeConfigCommand } from "./commands/node-config.js";
import { preflightCommand } from "./commands/preflight.js";
import { rewriteCommand } from "./commands/rewrite.js";
import { verifyCommand } from "./commands/verify.js";
import { saveCommand } from "./commands/save.js";
import { scanCommand } from "./commands/scan.js";
import { serveCommand } from "./commands/serve.js";
import { uninstallCommand } from "./commands/uninstall.js";

/** Every command, in the order `bundle --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [imagesCommand, scanCommand, saveCommand, verifyCommand, inspectCommand, preflightCommand, loadCommand, nodeConfigCommand, serveCommand, installCommand, uninstallCommand, inventoryCommand, diffCommand, keyCommand, exportCommand, rewriteCommand, helmPostRenderCommand];
