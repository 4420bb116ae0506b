import assert from "node:assert/strict";
import { fsErrorReason } from "../../../src/core/store/fs_error.ts";

function osError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("fsErrorReason() says what happened in plain words", () => {
  const cases: [unknown, string][] = [
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13): mkdir '/x'"),
      "permission denied",
    ],
    [osError("Read-only file system (os error 30): mkdir '/x'", "EROFS"), "read-only file system"],
    [osError("No space left on device (os error 28)", "ENOSPC"), "no space left on device"],
    [
      new Deno.errors.NotADirectory("Not a directory (os error 20): stat '/etc/hostname/x'"),
      "not a directory",
    ],
    [new Deno.errors.AlreadyExists("File exists (os error 17): mkdir '/x'"), "already exists"],
    [new Error("Something odd (os error 99): open '/x'"), "something odd"],
  ];
  for (const [err, reason] of cases) assert.equal(fsErrorReason(err), reason);
});

Deno.test("fsErrorReason() never passes on Deno's advice to run with --allow-all", () => {
  const err = new Deno.errors.NotCapable(
    'Requires all access to "/proc/nc/data", run again with the --allow-all flag',
  );
  const reason = fsErrorReason(err);
  assert.doesNotMatch(reason, /allow-all|run again/);
  assert.match(reason, /\/proc/);
});
