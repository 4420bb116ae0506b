/**
 * File system errors in plain words. Deno's messages name the OS error
 * number and the system call (`Read-only file system (os error 30): mkdir
 * '/x'`), and a path the runtime itself refuses gets advice about a flag
 * the compiled tool does not have (`run again with the --allow-all flag`).
 * Users read these words instead.
 *
 * @module
 */

/** Reasons by the OS error code Deno puts on its errors (`err.code`). */
const REASONS_BY_CODE: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  ENOENT: "no such file or directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
  EIO: "input/output error",
};

/**
 * The reason of a file system error in a few plain words, without the OS
 * error number, the system call or any advice about Deno's flags.
 *
 * @param err What a `Deno.*` file system call threw.
 * @returns A short lower-case reason such as `read-only file system`.
 *
 * @example
 * ```ts
 * import { fsErrorReason } from "./fs_error.ts";
 * const reason = fsErrorReason(new Deno.errors.PermissionDenied("Permission denied (os error 13)"));
 * if (reason !== "permission denied") throw new Error("unexpected");
 * ```
 */
export function fsErrorReason(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable) {
    // The runtime refused the path before the OS saw it: with the tool's
    // permissions that happens only for the special system directories.
    return "the tool may not use this path (system paths such as /dev, /proc and /sys are off limits)";
  }
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.NotADirectory) return "not a directory";
  if (err instanceof Deno.errors.AlreadyExists) return "already exists";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  const known = typeof code === "string" ? REASONS_BY_CODE[code] : undefined;
  if (known !== undefined) return known;
  const text = err instanceof Error ? err.message : String(err);
  // "Some reason (os error 5): mkdir '/x'" → "some reason".
  const reason = text.replace(/\s*\(os error \d+\).*$/s, "").replace(/\s*\n\s*/g, " ").trim();
  return reason === "" ? "unknown error" : reason.charAt(0).toLowerCase() + reason.slice(1);
}
