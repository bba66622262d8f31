import { libc } from "../../ffi/library.ts";
import { errno, errnoName } from "../../ffi/errno.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import { cstr } from "../../ffi/cstring.ts";

function assertEquals(a: unknown, b: unknown) {
  if (a !== b) throw new Error(`expected ${String(b)}, got ${String(a)}`);
}

Deno.test("errno is read on the calling thread after a failed call", () => {
  const sym = libc(
    "test-errno",
    {
      rmdir: { parameters: ["buffer"], result: "i32" },
    } as const,
  );
  const rc = sym.rmdir(cstr("/nonexistent-docker-ts-dir"));
  assertEquals(rc, -1);
  assertEquals(errnoName(errno()), "ENOENT");
});

Deno.test("SyscallError names the call, the path and the errno", () => {
  const err = new SyscallError("rmdir", 2, { path: "/x" });
  assertEquals(err.message, 'Cannot rmdir "/x": ENOENT (No such file or directory)');
  assertEquals(err.code, "ENOENT");
});
