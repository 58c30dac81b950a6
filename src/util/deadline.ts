/**
 * A command's whole-run bound: a signal that aborts on Ctrl-C (the command's own signal) or when its
 * `--timeout` runs out, whichever comes first; the deadline's reason says which option ran out.
 */
import { AirgapError } from "../errors.js";
import { formatDuration } from "./duration.js";

/**
 * How long before its deadline a command's own waits give up, so that their report (what is not ready yet)
 * is printed instead of the bare deadline.
 */
export const REPORT_MARGIN_MS = 1_000;

/** `signal`, or the deadline `ms` from now: aborted with a TIMED_OUT error naming `option`. */
export function withDeadline(signal: AbortSignal, ms: number, option: string, what: string): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new AirgapError("TIMED_OUT", `${what} did not finish within ${option} ${formatDuration(ms)}`, { hint: `give it longer with ${option}` }));
  }, ms);
  timer.unref();
  const follow = () => {
    clearTimeout(timer);
    controller.abort(signal.reason);
  };
  if (signal.aborted) follow();
  else signal.addEventListener("abort", follow, { once: true });
  return controller.signal;
}

/** The error to stop with once `signal` is aborted: its own reason when that is one of ours (a deadline), else ABORTED with `message`. */
export function stoppedBy(signal: AbortSignal, message: string): AirgapError {
  const reason: unknown = signal.reason;
  // A copy each time: one reason is shared by every request it stops, and callers may add to an error's message.
  if (reason instanceof AirgapError) return new AirgapError(reason.code, reason.message, { ...(reason.hint !== undefined && { hint: reason.hint }), cause: reason });
  return new AirgapError("ABORTED", message, { cause: reason });
}
