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

Deno.test("errno of a thread's very first failed call is that call's (a fresh Worker)", async () => {
  // The errno location was once looked up (a dlopen) between the failed call and the read, which
  // could overwrite errno: a missing path then read as EAGAIN and failed a layer extraction.
  const src = `
    import { lstat } from ${JSON.stringify(new URL("../../ffi/fs.ts", import.meta.url).href)};
    let result: string;
    try { result = lstat("/nonexistent-docker-ts-dir/x") === undefined ? "ENOENT" : "found"; }
    catch (err) { result = String((err as Error).message); }
    self.postMessage(result);
  `;
  const url = `data:application/typescript;base64,${btoa(src)}`;
  for (let i = 0; i < 5; i++) {
    const worker = new Worker(url, { type: "module" });
    const result = await new Promise<string>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(e.message));
    });
    worker.terminate();
    assertEquals(result, "ENOENT");
  }
});
