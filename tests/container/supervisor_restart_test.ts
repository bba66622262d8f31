/** Restart policy parsing and Docker's backoff decisions (pure). */
import assert from "node:assert/strict";
import {
  decideRestart,
  parseRestartPolicy,
  type RestartFacts,
} from "../../src/container/restart_policy.ts";

Deno.test("restart policy: parse", () => {
  assert.deepEqual(parseRestartPolicy(undefined), { Name: "no", MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy("always"), { Name: "always", MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy("on-failure:3"), {
    Name: "on-failure",
    MaximumRetryCount: 3,
  });
  assert.deepEqual(parseRestartPolicy({ Name: "unless-stopped" }), {
    Name: "unless-stopped",
    MaximumRetryCount: 0,
  });
  assert.throws(() => parseRestartPolicy("always:3"), /maximum retry count cannot be used/);
  assert.throws(() => parseRestartPolicy("sometimes"), /invalid restart policy/);
  assert.throws(() => parseRestartPolicy("on-failure:x"), /bad retry count/);
});

const base: RestartFacts = {
  policy: { Name: "always", MaximumRetryCount: 0 },
  exitCode: 0,
  stoppedByUser: false,
  restartCount: 0,
  runMs: 50,
  lastDelayMs: 0,
};

Deno.test("restart policy: decisions and backoff", () => {
  assert.equal(decideRestart({ ...base, policy: { Name: "no", MaximumRetryCount: 0 } }), null);
  assert.deepEqual(decideRestart(base), { delayMs: 100 });
  assert.deepEqual(decideRestart({ ...base, lastDelayMs: 100 }), { delayMs: 200 });
  assert.deepEqual(decideRestart({ ...base, lastDelayMs: 400 }), { delayMs: 800 });
  // A run of 10 s or more resets the backoff.
  assert.deepEqual(decideRestart({ ...base, lastDelayMs: 800, runMs: 10_000 }), { delayMs: 100 });
  assert.equal(decideRestart({ ...base, stoppedByUser: true }), null);
  const onFailure = { ...base, policy: { Name: "on-failure" as const, MaximumRetryCount: 2 } };
  assert.equal(decideRestart(onFailure), null);
  assert.deepEqual(decideRestart({ ...onFailure, exitCode: 1 }), { delayMs: 100 });
  assert.deepEqual(decideRestart({ ...onFailure, exitCode: null }), { delayMs: 100 });
  assert.equal(decideRestart({ ...onFailure, exitCode: 1, restartCount: 2 }), null);
  // Daemon start: always forgets a manual stop; unless-stopped does not.
  assert.deepEqual(decideRestart({ ...base, stoppedByUser: true, daemonStart: true }), {
    delayMs: 0,
  });
  const us = { ...base, policy: { Name: "unless-stopped" as const, MaximumRetryCount: 0 } };
  assert.equal(decideRestart({ ...us, stoppedByUser: true, daemonStart: true }), null);
});
