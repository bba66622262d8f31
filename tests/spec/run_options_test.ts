import assert from "node:assert/strict";
import { InvalidArgumentError, NotImplementedError } from "../../src/errors.ts";
import {
  parseBytes,
  parseMount,
  parseRunOptions,
  parseTmpfs,
  parseUlimit,
  parseVolume,
  signalNumber,
} from "../../src/spec/run_options.ts";

Deno.test("parseBytes follows Docker's RAMInBytes", () => {
  assert.equal(parseBytes("512m"), 512 * 1024 ** 2);
  assert.equal(parseBytes("1g"), 1024 ** 3);
  assert.equal(parseBytes("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("100"), 100);
  assert.equal(parseBytes("64k"), 65536);
  assert.equal(parseBytes("2mb"), 2 * 1024 ** 2);
  assert.throws(() => parseBytes("12x"), InvalidArgumentError);
  assert.throws(() => parseBytes("-1"), InvalidArgumentError);
});

Deno.test("run options: defaults and parsed values", () => {
  const o = parseRunOptions({
    image: "busybox",
    memory: "512m",
    memorySwap: "1g",
    cpus: "0.5",
    shmSize: "128m",
    ulimits: ["nofile=1024:2048"],
    labels: ["a=b", "c"],
  });
  assert.equal(o.memory, 512 * 1024 ** 2);
  assert.equal(o.memorySwap, 1024 ** 3);
  assert.equal(o.nanoCpus, 5e8);
  assert.equal(o.shmSize, 128 * 1024 ** 2);
  assert.deepEqual(o.ulimits, [{ name: "nofile", soft: 1024, hard: 2048 }]);
  assert.deepEqual(o.labels, { a: "b", c: "" });
  assert.equal(o.network, "bridge", "Docker's default network is the bridge");
  assert.equal(o.pull, "missing");
  assert.equal(parseRunOptions({ image: "x" }).shmSize, 64 * 1024 ** 2);
});

Deno.test("run options: unknown keys and bad types are one InvalidArgumentError", () => {
  assert.throws(() => parseRunOptions({ image: "x", bogus: 1 }), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError);
    assert.match(e.message, /unknown option "bogus"/);
    return true;
  });
  assert.throws(() => parseRunOptions({ image: "x", tty: "yes" }), InvalidArgumentError);
  assert.throws(() => parseRunOptions({}), InvalidArgumentError);
});

Deno.test("run options: semantic checks use Docker's messages", () => {
  const msg = (input: Record<string, unknown>): string => {
    try {
      parseRunOptions({ image: "x", ...input });
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert.equal(
    msg({ memorySwap: "1g" }),
    "You should always set the Memory limit when using Memoryswap limit, see usage",
  );
  assert.equal(
    msg({ memory: "1g", memorySwap: "512m" }),
    "Minimum memoryswap limit should be larger than memory limit, see usage",
  );
  assert.equal(msg({ memory: "1m" }), "Minimum memory limit allowed is 6MB");
  assert.equal(msg({ memory: "1g", memorySwap: "-1" }), "");
  assert.match(msg({ cpus: "1000" }), /^Range of CPUs is from 0.01 to/);
  assert.equal(
    msg({ name: "-bad" }),
    "Invalid container name (-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
  );
  assert.equal(msg({ stopSignal: "NOPE" }), "Invalid signal: NOPE");
  assert.match(msg({ workdir: "rel" }), /needs to be an absolute path/);
  assert.match(msg({ volumes: ["/a:/x"], tmpfs: ["/x"] }), /Duplicate mount point: \/x/);
});

Deno.test("entrypoint: string, empty string and list", () => {
  assert.equal(parseRunOptions({ image: "x" }).entrypoint, undefined);
  assert.deepEqual(parseRunOptions({ image: "x", entrypoint: "" }).entrypoint, []);
  assert.deepEqual(parseRunOptions({ image: "x", entrypoint: "/bin/sh" }).entrypoint, ["/bin/sh"]);
  assert.deepEqual(parseRunOptions({ image: "x", entrypoint: ["a", "b"] }).entrypoint, ["a", "b"]);
});

Deno.test("volumes, mounts and tmpfs syntaxes", () => {
  assert.deepEqual(parseVolume("/h:/c:ro"), {
    type: "bind",
    source: "/h",
    target: "/c",
    readonly: true,
    createSource: true,
    propagation: undefined,
  });
  assert.throws(() => parseVolume("named:/c"), NotImplementedError);
  assert.throws(() => parseVolume("/h:rel"), InvalidArgumentError);
  assert.throws(() => parseVolume("/h:/c:bogus"), InvalidArgumentError);
  const m = parseMount("type=bind,source=/x,target=/y,readonly");
  assert.equal(m.type, "bind");
  assert.equal(m.readonly, true);
  assert.equal(m.type === "bind" && m.createSource, false);
  assert.deepEqual(parseMount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700"), {
    type: "tmpfs",
    target: "/t",
    readonly: false,
    options: ["size=1048576", "mode=700"],
  });
  assert.throws(() => parseMount("type=bind,target=/y"), InvalidArgumentError);
  assert.throws(() => parseMount("type=bind,source=/x"), InvalidArgumentError);
  assert.throws(() => parseMount("type=bind,src=/x,dst=/y,what=1"), InvalidArgumentError);
  assert.deepEqual(parseTmpfs("/run:rw,size=64m,noexec"), {
    type: "tmpfs",
    target: "/run",
    readonly: false,
    options: [`size=${64 * 1024 ** 2}`, "noexec"],
  });
});

Deno.test("ulimits and signals", () => {
  assert.deepEqual(parseUlimit("nproc=10"), { name: "nproc", soft: 10, hard: 10 });
  assert.deepEqual(parseUlimit("core=-1"), { name: "core", soft: -1, hard: -1 });
  assert.throws(() => parseUlimit("nofile=10:5"), InvalidArgumentError);
  assert.throws(() => parseUlimit("what=1"), InvalidArgumentError);
  assert.equal(signalNumber("SIGTERM"), 15);
  assert.equal(signalNumber("kill"), 9);
  assert.equal(signalNumber("10"), 10);
  assert.equal(signalNumber("RTMIN+2"), 36);
  assert.equal(signalNumber("NOPE"), undefined);
});

Deno.test("security opts and networks", () => {
  assert.equal(
    parseRunOptions({ image: "x", securityOpt: ["no-new-privileges"] }).security.noNewPrivileges,
    true,
  );
  assert.equal(
    parseRunOptions({ image: "x", securityOpt: ["no-new-privileges:true"] }).security
      .noNewPrivileges,
    true,
  );
  assert.equal(
    parseRunOptions({ image: "x", securityOpt: ["seccomp=unconfined"] }).security.seccomp,
    "unconfined",
  );
  assert.throws(
    () => parseRunOptions({ image: "x", securityOpt: ["bogus"] }),
    InvalidArgumentError,
  );
  assert.equal(parseRunOptions({ image: "x", network: "host" }).network, "host");
  assert.equal(parseRunOptions({ image: "x", network: "bridge" }).network, "bridge");
  assert.equal(parseRunOptions({ image: "x", network: "default" }).network, "bridge");
  assert.deepEqual(parseRunOptions({ image: "x", addHosts: ["db:10.0.0.2", "v6=::1"] }).addHosts, [
    { host: "db", ip: "10.0.0.2" },
    { host: "v6", ip: "::1" },
  ]);
  assert.throws(() => parseRunOptions({ image: "x", addHosts: ["db:nope"] }), InvalidArgumentError);
});
