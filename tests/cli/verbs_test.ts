import assert from "node:assert/strict";
import { BUSYBOX_ID, cli, CONTAINER_ID, fakeEngine } from "./_fake.ts";
import { InvalidArgumentError, NotFoundError } from "../../src/errors.ts";

Deno.test("run: flags become engine options; exit code is the container's", async () => {
  const r = await cli(
    [
      "run",
      "--rm",
      "--name",
      "web",
      "-e",
      "A=1",
      "-e",
      "FROM_HOST",
      "-e",
      "UNSET",
      "-w",
      "/tmp",
      "-u",
      "1000:1000",
      "--network=none",
      "--cap-add",
      "NET_ADMIN",
      "-m",
      "64m",
      "--cpus",
      "1.5",
      "--pids-limit",
      "20",
      "--entrypoint",
      "",
      "busybox",
      "sh",
      "-c",
      "--rm",
    ],
    undefined,
    { env: { FROM_HOST: "yes" } },
  );
  assert.equal(r.code, 3);
  assert.equal(r.out, "hi\n");
  const run = r.calls.find((c) => c[0] === "run")![1] as Record<string, unknown>;
  assert.equal(run.image, "busybox");
  assert.deepEqual(run.cmd, ["sh", "-c", "--rm"]);
  assert.deepEqual(run.env, ["A=1", "FROM_HOST=yes"]);
  assert.equal(run.entrypoint, "");
  assert.equal(run.name, "web");
  assert.equal(run.rm, true);
  assert.equal(run.workdir, "/tmp");
  assert.equal(run.user, "1000:1000");
  assert.equal(run.network, "none");
  assert.deepEqual(run.capAdd, ["NET_ADMIN"]);
  assert.equal(run.memory, "64m");
  assert.equal(run.cpus, "1.5");
  assert.equal(run.pidsLimit, 20);
  // Pull policy "missing" tries the run straight away (no image check round trip): the engine
  // must not pull by itself, so it gets "never"; the image was present, so no pull either.
  assert.equal(run.pull, "never");
  assert.deepEqual(r.calls.map((c) => c[0]), ["run"]);
});

Deno.test("run: no command leaves cmd undefined (image default)", async () => {
  const r = await cli(["run", "busybox"]);
  const run = r.calls.find((c) => c[0] === "run")![1] as Record<string, unknown>;
  assert.equal(run.cmd, undefined);
  assert.equal("entrypoint" in run, false);
});

/** A fake engine whose `run` answers "No such image" while the image is not pulled. */
function engineWithoutImage(): ReturnType<typeof fakeEngine> {
  const engine = fakeEngine();
  let pulled = false;
  const { pull, run } = engine;
  engine.pull = (...args) => {
    pulled = true;
    return pull.apply(engine, args);
  };
  engine.run = (o, io) => {
    if (!pulled && o.pull === "never") {
      engine.calls.push(["run", o]);
      return Promise.reject(new NotFoundError(`No such image: ${o.image}:latest`));
    }
    return run.call(engine, o, io);
  };
  return engine;
}

Deno.test("run: a missing image is pulled with progress on stderr", async () => {
  // A non-NotFound error from the image check must surface as an engine error (125).
  const engine = engineWithoutImage();
  engine.inspectImage = (ref) => {
    engine.calls.push(["inspectImage", ref]);
    return Promise.reject(new (class extends Error {})("x"));
  };
  const bad = await cli(["run", "alpine"], engine);
  assert.equal(bad.code, 125);
  assert.ok(!bad.calls.some((c) => c[0] === "pull"));

  const r = await cli(["run", "alpine", "true"], engineWithoutImage());
  assert.equal(r.code, 3);
  assert.match(r.err, /^Unable to find image 'alpine:latest' locally\n/);
  assert.match(r.err, /aaaaaaaaaaaa: Pull complete\n/);
  assert.match(r.err, /Status: Downloaded newer image for busybox:latest\n/);
  assert.doesNotMatch(r.err, /Downloading/); // not a terminal: no byte counts
  // Tried, told the image is missing, checked, pulled, ran.
  assert.deepEqual(r.calls.map((c) => c[0]), ["run", "inspectImage", "pull", "run"]);
  const last = r.calls.at(-1)![1] as Record<string, unknown>;
  assert.equal(last.pull, "missing");
});

Deno.test("run: other errors of the first try are not mistaken for a missing image", async () => {
  const engine = fakeEngine({
    run: () => Promise.reject(new NotFoundError("No such container: x")),
  });
  const r = await cli(["run", "alpine"], engine);
  assert.equal(r.code, 125);
  assert.deepEqual(r.calls.map((c) => c[0]), []);
});

Deno.test("run: --pull never skips the image check; always pulls", async () => {
  const never = await cli(["run", "--pull", "never", "busybox"]);
  assert.deepEqual(never.calls.map((c) => c[0]), ["run"]);
  const always = await cli(["run", "--pull=always", "busybox"]);
  assert.deepEqual(always.calls.map((c) => c[0]), ["pull", "run"]);
  const bad = await cli(["run", "--pull=sometimes", "busybox"]);
  assert.equal(bad.code, 125);
  assert.equal(
    bad.err,
    `docker-ts: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"\n`,
  );
});

Deno.test("run: engine errors are one line and exit 125", async () => {
  const engine = fakeEngine({
    run: () => Promise.reject(new InvalidArgumentError('Invalid volume specification: "x"')),
  });
  const r = await cli(["run", "busybox"], engine);
  assert.equal(r.code, 125);
  assert.equal(r.err, 'docker-ts: Invalid volume specification: "x"\n');
});

Deno.test("run: -it without a terminal is docker's TTY error, exit 1", async () => {
  const r = await cli(["run", "-it", "busybox", "sh"]);
  assert.equal(r.code, 1);
  assert.equal(r.err, "docker-ts: the input device is not a TTY\n");
  assert.equal(r.calls.length, 0);
});

Deno.test("run: -d creates, starts and prints the full id", async () => {
  const r = await cli(["run", "-d", "busybox"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${CONTAINER_ID}\n`);
  assert.deepEqual(r.calls.map((c) => c[0]).filter((n) => n === "create" || n === "start"), [
    "create",
    "start",
  ]);
});

Deno.test("run: --env-file lines are resolved client-side", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/env`;
    await Deno.writeTextFile(file, "# comment\n\nA=1\n  B=two words\nHOSTVAR\nMISSING\n");
    const r = await cli(["run", "--env-file", file, "-e", "A=2", "busybox"], undefined, {
      env: { HOSTVAR: "h" },
    });
    const run = r.calls.find((c) => c[0] === "run")![1] as Record<string, unknown>;
    assert.deepEqual(run.env, ["A=1", "B=two words", "HOSTVAR=h", "A=2"]);
    const missing = await cli(["run", "--env-file", `${dir}/nope`, "busybox"]);
    assert.equal(missing.code, 125);
    assert.equal(missing.err, `docker-ts: open ${dir}/nope: no such file or directory\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("create prints the id", async () => {
  const r = await cli(["create", "--name", "x", "busybox", "echo", "hi"]);
  assert.equal(r.code, 0);
  assert.equal(r.out, CONTAINER_ID + "\n");
});

Deno.test("images: docker's table, -q, --format, filters", async () => {
  const table = await cli(["images"]);
  assert.equal(table.code, 0);
  const lines = table.out.trimEnd().split("\n");
  assert.match(lines[0], /^REPOSITORY\s{3,}TAG\s{3,}IMAGE ID\s{3,}CREATED\s{3,}SIZE$/);
  assert.ok(lines.some((l) => /^busybox\s+latest\s+abababababab\s+3 days ago\s+4\.26MB$/.test(l)));
  assert.ok(lines.some((l) => /^127\.0\.0\.1:5000\/busybox\s+v1\s+abababababab/.test(l)));
  assert.ok(
    lines.some((l) => /^<none>\s+<none>\s+efefefefefef\s+About an hour ago\s+1\.23kB$/.test(l)),
  );
  const q = await cli(["images", "-q"]);
  assert.equal(q.out, "efefefefefef\nabababababab\n");
  const f = await cli(["images", "--format", "{{.Repository}}:{{.Tag}}", "-f", "dangling=false"]);
  assert.equal(f.out, "busybox:latest\n127.0.0.1:5000/busybox:v1\n");
  const ref = await cli(["image", "ls", "--filter", "reference=busy*", "--format", "{{.ID}}"]);
  assert.equal(ref.out, "abababababab\n");
  const dangling = await cli(["images", "-f", "dangling=true", "--no-trunc", "-q"]);
  assert.equal(dangling.out, "sha256:" + "ef".repeat(32) + "\n");
  const digests = await cli(["images", "--digests"]);
  assert.match(digests.out, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID/);
  assert.match(digests.out, /busybox\s+latest\s+sha256:cdcd/);
});

Deno.test("ps: table, -a, -q, --format, -n", async () => {
  const empty = await cli(["ps"]);
  assert.equal(
    empty.out,
    "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n",
  );
  const all = await cli(["ps", "-a"]);
  const row = all.out.split("\n")[1];
  assert.match(
    row,
    /^c0ffee000000\s+busybox\s+"sh -c 'echo a very …"\s+2 minutes ago\s+Exited \(3\) 1 minute ago\s+web$/,
  );
  const q = await cli(["ps", "-aq", "--no-trunc"]);
  assert.equal(q.out, CONTAINER_ID + "\n");
  const fmt = await cli(["ps", "-a", "--format", "table {{.ID}}\\t{{.Names}}"]);
  assert.equal(fmt.out, "CONTAINER ID   NAMES\nc0ffee000000   web\n");
  const last = await cli(["ps", "-n", "1", "--format", "{{.Names}} {{.State}}"]);
  assert.equal(last.out, "web exited\n");
  assert.deepEqual(last.calls[0], ["list", { all: true }]);
});

Deno.test("inspect: JSON array, --format, falls back to images, errors", async () => {
  const r = await cli(["inspect", "web"]);
  assert.equal(r.code, 0);
  const parsed = JSON.parse(r.out);
  assert.equal(parsed[0].Id, CONTAINER_ID);
  assert.ok(r.out.startsWith('[\n    {\n        "Id"'));
  const f = await cli(["inspect", "--format", "{{.State.ExitCode}} {{json .Config.Env}}", "web"]);
  assert.equal(f.out, '3 ["A=1"]\n');
  const img = await cli(["inspect", "-f", "{{.Id}}", "busybox"]);
  assert.equal(img.out, BUSYBOX_ID + "\n");
  const missing = await cli(["inspect", "nosuch"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.out, "[]\n");
  assert.equal(missing.err, "docker-ts: No such object: nosuch\n");
  const typed = await cli(["inspect", "--type", "container", "busybox"]);
  assert.equal(typed.code, 1);
  assert.equal(typed.err, "docker-ts: No such container: busybox\n");
  const imgOnly = await cli(["image", "inspect", "--format", "{{.Id}}", "busybox"]);
  assert.equal(imgOnly.out, BUSYBOX_ID + "\n");
  assert.ok(!imgOnly.calls.some((c) => c[0] === "inspect"));
});

Deno.test("rmi, tag, rm, wait, load, import, save, login, logout", async () => {
  const rmi = await cli(["rmi", "busybox", "nope"]);
  assert.equal(rmi.code, 1);
  assert.equal(rmi.out, `Untagged: busybox:latest\nDeleted: ${BUSYBOX_ID}\n`);
  assert.equal(rmi.err, "docker-ts: No such image: nope\n");

  const tag = await cli(["tag", "busybox", "mine:1"]);
  assert.equal(tag.code, 0);
  assert.deepEqual(tag.calls[0], ["tag", "busybox", "mine:1"]);
  const tag1 = await cli(["tag", "busybox"]);
  assert.equal(tag1.code, 1);
  assert.match(tag1.err, /^docker-ts: 'docker-ts tag' requires 2 arguments\n/);

  const rm = await cli(["rm", "-f", "web", "nosuch"]);
  assert.equal(rm.code, 1);
  assert.equal(rm.out, "web\n");
  assert.equal(rm.err, "docker-ts: No such container: nosuch\n");
  assert.deepEqual(rm.calls[0], ["remove", "web", { force: true, volumes: false }]);

  const wait = await cli(["wait", "web"]);
  assert.equal(wait.out, "0\n");

  const load = await cli(["load", "-i", "/x.tar"]);
  assert.equal(load.out, "Loaded image: busybox:latest\n");
  const loadStdin = await cli(["load"]);
  assert.deepEqual(loadStdin.calls[0], ["load", "stream"]);
  const loadTty = await cli(["load"], undefined, { terminal: true });
  assert.equal(loadTty.code, 1);
  assert.equal(loadTty.err, "docker-ts: requested load from stdin, but stdin is empty\n");

  const imp = await cli(["import", "-", "mine:latest"]);
  assert.equal(imp.out, BUSYBOX_ID + "\n");
  assert.deepEqual(imp.calls[0], ["importImage", "stream", { ref: "mine:latest", changes: [] }]);

  const save = await cli(["save", "-o", "/tmp/x.tar", "busybox"]);
  assert.deepEqual(save.calls[0], ["save", ["busybox"], "/tmp/x.tar"]);
  const saveTty = await cli(["save", "busybox"], undefined, { terminal: true });
  assert.equal(saveTty.code, 1);
  assert.match(saveTty.err, /cowardly refusing to save to a terminal/);

  const login = await cli(["login", "-u", "bob", "--password-stdin", "127.0.0.1:5000"], undefined, {
    stdin: "secret\n",
  });
  assert.equal(login.code, 0);
  assert.equal(login.out, "Login Succeeded\n");
  assert.deepEqual(login.calls[0], [
    "login",
    { server: "127.0.0.1:5000", username: "bob", password: "secret" },
  ]);
  const loginP = await cli(["login", "-u", "bob", "-p", "pw"]);
  assert.match(loginP.err, /WARNING! Using --password via the CLI is insecure/);
  const loginBoth = await cli(["login", "-u", "bob", "-p", "pw", "--password-stdin"]);
  assert.equal(loginBoth.code, 1);

  const logout = await cli(["logout"]);
  assert.equal(logout.out, "Removing login credentials for https://index.docker.io/v1/\n");
});

Deno.test("pull: plain progress, final name; -q prints only the name", async () => {
  const r = await cli(["pull", "busybox"]);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      "Using default tag: latest",
      "latest: Pulling from library/busybox",
      "aaaaaaaaaaaa: Pulling fs layer",
      "aaaaaaaaaaaa: Pull complete",
      "Digest: sha256:" + "cd".repeat(32),
      "Status: Downloaded newer image for busybox:latest",
      "docker.io/library/busybox:latest",
      "",
    ].join("\n"),
  );
  const q = await cli(["pull", "-q", "--platform", "linux/amd64", "busybox:1.36"]);
  assert.equal(q.out, "docker.io/library/busybox:1.36\n");
  assert.deepEqual(q.calls[0], ["pull", "busybox:1.36", { platform: "linux/amd64" }]);
});

Deno.test("push: clear error when the engine cannot push", async () => {
  const r = await cli(["push", "busybox"]);
  assert.equal(r.code, 1);
  assert.equal(r.err, "docker-ts: Cannot push: this engine does not support push yet\n");
});

Deno.test("-D prints the stack after the one line", async () => {
  const r = await cli(["-D", "rmi", "nope"]);
  assert.match(
    r.err,
    /^docker-ts: No such image: nope\nNotFoundError: No such image: nope\n\s+at /,
  );
});

Deno.test("help, version, unknown verbs", async () => {
  const v = await cli(["--version"]);
  assert.equal(v.out, "docker-ts version 0.1.0\n");
  const h = await cli(["--help"]);
  assert.match(h.out, /^Usage: {2}docker-ts \[OPTIONS\] COMMAND\n/);
  const rh = await cli(["run", "--help"]);
  assert.match(rh.out, /^Usage: {2}docker-ts run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n/);
  assert.match(rh.out, /\n {2}-h, --hostname string\s+Container host name\n/);
  const ih = await cli(["images", "-h"]);
  assert.match(ih.out, /^Usage: {2}docker-ts images \[OPTIONS\] \[REPOSITORY\[:TAG\]\]/);
  const foo = await cli(["foo"]);
  assert.equal(foo.code, 1);
  assert.equal(
    foo.err,
    "docker-ts: unknown command: docker-ts foo\n\nRun 'docker-ts --help' for more information\n",
  );
  const sub = await cli(["image", "nope"]);
  assert.equal(sub.code, 1);
  const bad = await cli(["ps", "--foo"]);
  assert.equal(bad.code, 125);
  assert.equal(
    bad.err,
    "unknown flag: --foo\n\nUsage:  docker-ts ps [OPTIONS]\n\nRun 'docker-ts ps --help' for more information\n",
  );
  const g = await cli(["--bogus", "ps"]);
  assert.equal(g.code, 125);
});
