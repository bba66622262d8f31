import assert from "node:assert/strict";
import { FlagError, type FlagSpec, formatFlagUsages, parseFlags } from "../../src/cli/flags.ts";

const SPECS: FlagSpec[] = [
  { name: "interactive", short: "i", kind: "bool", description: "" },
  { name: "tty", short: "t", kind: "bool", description: "" },
  { name: "detach", short: "d", kind: "bool", description: "" },
  { name: "rm", kind: "bool", description: "" },
  { name: "env", short: "e", kind: "list", description: "" },
  { name: "name", kind: "string", description: "" },
  { name: "network", aliases: ["net"], kind: "string", description: "" },
  { name: "last", short: "n", kind: "int", description: "", default: -1 },
  { name: "sig-proxy", kind: "bool", description: "", default: true },
];

type Case = [
  string,
  string[],
  { values?: Record<string, unknown>; positionals?: string[]; error?: string },
  boolean?,
];

const CASES: Case[] = [
  ["combined bool shorthands", ["-itd", "img"], {
    values: { interactive: true, tty: true, detach: true },
    positionals: ["img"],
  }],
  ["shorthand value, separate", ["-e", "A=1", "img"], { values: { env: ["A=1"] } }],
  ["shorthand value, attached", ["-eA=1", "img"], { values: { env: ["A=1"] } }],
  ["shorthand value with =", ["-e=A=1", "img"], { values: { env: ["A=1"] } }],
  ["bools then value shorthand", ["-ite", "X", "img"], {
    values: { interactive: true, tty: true, env: ["X"] },
    positionals: ["img"],
  }],
  ["long value, separate", ["--env", "A=1", "img"], { values: { env: ["A=1"] } }],
  ["long value, =", ["--env=A=1", "img"], { values: { env: ["A=1"] } }],
  ["repeated list accumulates", ["-e", "A", "--env", "B", "-eC"], {
    values: { env: ["A", "B", "C"] },
  }],
  ["bool =false", ["--rm=false", "--sig-proxy=false"], {
    values: { rm: false, "sig-proxy": false },
  }],
  ["bool default true", [], { values: { "sig-proxy": true, last: -1 } }],
  ["bool =0 / =T", ["--rm=T", "-d=0"], { values: { rm: true, detach: false } }],
  ["alias", ["--net", "host"], { values: { network: "host" } }],
  ["int", ["-n", "3"], { values: { last: 3 } }],
  ["negative int attached", ["-n-1"], { values: { last: -1 } }],
  ["terminator", ["--rm", "--", "-x", "--y"], { positionals: ["-x", "--y"] }],
  ["dash alone is positional", ["-", "x"], { positionals: ["-", "x"] }],
  ["stops at first positional", ["--rm", "busybox", "sh", "-c", "--rm", "-e"], {
    values: { rm: true, env: [] },
    positionals: ["busybox", "sh", "-c", "--rm", "-e"],
  }, false],
  ["interspersed continues", ["a", "--rm", "b"], { values: { rm: true }, positionals: ["a", "b"] }],
  ["unknown long", ["--foo"], { error: "unknown flag: --foo" }],
  ["unknown long with value", ["--foo=bar"], { error: "unknown flag: --foo" }],
  ["unknown shorthand", ["-z"], { error: "unknown shorthand flag: 'z' in -z" }],
  ["unknown shorthand in group", ["-iz"], { error: "unknown shorthand flag: 'z' in -iz" }],
  ["missing long value", ["--env"], { error: "flag needs an argument: --env" }],
  ["missing short value", ["-e"], { error: "flag needs an argument: 'e' in -e" }],
  ["bad bool", ["-d=xyz"], {
    error:
      'invalid argument "xyz" for "-d, --detach" flag: strconv.ParseBool: parsing "xyz": invalid syntax',
  }],
  ["bad int", ["-n", "x"], {
    error:
      'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax',
  }],
  ["bad long-only bool", ["--rm=maybe"], {
    error:
      'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
  }],
];

for (const [name, args, want, interspersed] of CASES) {
  Deno.test(`flags: ${name}`, () => {
    if (want.error) {
      assert.throws(
        () => parseFlags(args, SPECS, { interspersed: interspersed ?? true }),
        (err: unknown) => err instanceof FlagError && err.message === want.error,
      );
      return;
    }
    const r = parseFlags(args, SPECS, { interspersed: interspersed ?? true });
    for (const [k, v] of Object.entries(want.values ?? {})) assert.deepEqual(r.values[k], v, k);
    if (want.positionals) assert.deepEqual(r.positionals, want.positionals);
  });
}

Deno.test("flags: changed records only given flags", () => {
  const r = parseFlags(["--rm", "-e", "A"], SPECS);
  assert.deepEqual([...r.changed].sort(), ["env", "rm"]);
});

Deno.test("flags: list default is replaced on first use", () => {
  const specs: FlagSpec[] = [{ name: "x", kind: "list", description: "", default: "a,b" }];
  assert.deepEqual(parseFlags([], specs).values.x, ["a", "b"]);
  assert.deepEqual(parseFlags(["--x", "c"], specs).values.x, ["c"]);
});

Deno.test("flags: usage table is sorted and aligned like pflag", () => {
  const text = formatFlagUsages([
    { name: "quiet", short: "q", kind: "bool", description: "Only IDs" },
    { name: "format", kind: "string", description: "Format" },
    { name: "last", short: "n", kind: "int", description: "Last n", default: -1 },
    { name: "all", short: "a", kind: "bool", description: "All" },
  ]);
  assert.equal(
    text,
    [
      "  -a, --all             All",
      "      --format string   Format",
      "  -n, --last int        Last n (default -1)",
      "  -q, --quiet           Only IDs",
    ].join("\n"),
  );
});
