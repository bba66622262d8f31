// waitReadableUnless is how a container's init waits at the start gate: it must wake for the
// start byte, and give up when the engine's end of the status pipe is gone (the engine died).
import assert from "node:assert/strict";
import { closeFd, pipe, readFd, waitReadableUnless, writeFd } from "../../ffi/process.ts";

function pipes(): { gateR: number; gateW: number; statusR: number; statusW: number } {
  const [gateR, gateW] = pipe();
  const [statusR, statusW] = pipe();
  return { gateR, gateW, statusR, statusW };
}

Deno.test("gate wait: the start byte wakes it while the engine holds the status pipe", () => {
  const p = pipes();
  try {
    writeFd(p.gateW, new Uint8Array([1]));
    assert.equal(waitReadableUnless(p.gateR, p.statusW), true);
    const b = new Uint8Array(1);
    assert.equal(readFd(p.gateR, b), 1);
    assert.equal(b[0], 1);
  } finally {
    for (const fd of Object.values(p)) closeFd(fd);
  }
});

Deno.test("gate wait: gives up when the status pipe's reader is gone", () => {
  const p = pipes();
  try {
    closeFd(p.statusR);
    assert.equal(waitReadableUnless(p.gateR, p.statusW), false);
  } finally {
    closeFd(p.gateR);
    closeFd(p.gateW);
    closeFd(p.statusW);
  }
});

Deno.test("gate wait: a start byte already there wins over a gone engine", () => {
  const p = pipes();
  try {
    writeFd(p.gateW, new Uint8Array([1]));
    closeFd(p.statusR);
    assert.equal(waitReadableUnless(p.gateR, p.statusW), true);
  } finally {
    closeFd(p.gateR);
    closeFd(p.gateW);
    closeFd(p.statusW);
  }
});
