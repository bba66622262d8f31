import assert from "node:assert/strict";
import { renderTemplate, TemplateError } from "../../src/cli/go_template.ts";

const DATA = {
  Id: "abc",
  Name: "/web",
  State: { ExitCode: 3, Running: false, OOMKilled: false, Status: "exited" },
  Config: { Env: ["A=1", "B=2"], Labels: { "com.x": "y" }, Cmd: null as string[] | null },
  Mounts: [{ Destination: "/a", RW: true }, { Destination: "/b", RW: false }],
};

const CASES: Array<[string, string, unknown?]> = [
  ["{{.State.ExitCode}}", "3"],
  ["{{.Name}}", "/web"],
  ["{{json .Config.Env}}", '["A=1","B=2"]'],
  ["{{.Config.Env | json}}", '["A=1","B=2"]'],
  ["{{json .Config.Cmd}}", "null"],
  ["{{range .Mounts}}{{.Destination}} {{end}}", "/a /b "],
  ["{{range $i, $m := .Mounts}}{{$i}}:{{$m.Destination}},{{end}}", "0:/a,1:/b,"],
  ["{{range .Nothing}}x{{else}}empty{{end}}", "empty"],
  ['{{index .Config.Labels "com.x"}}', "y"],
  ["{{index .Mounts 1 | json}}", '{"Destination":"/b","RW":false}'],
  ['{{join .Config.Env ","}}', "A=1,B=2"],
  ["{{if .State.Running}}up{{else}}down{{end}}", "down"],
  ["{{if eq .State.ExitCode 0}}ok{{else if eq .State.ExitCode 3}}three{{else}}?{{end}}", "three"],
  ["{{if and .Mounts (not .State.Running)}}y{{end}}", "y"],
  ['{{upper .State.Status}} {{lower "ABC"}} {{title "hello world"}}', "EXITED abc Hello World"],
  ["{{println .Id}}", "abc\n"],
  ["{{.Missing}}", "<no value>"],
  ["{{.Config.Env}}", "[A=1 B=2]"],
  ["{{.Config.Labels}}", "map[com.x:y]"],
  ["{{.Config.Cmd}}", "<nil>"],
  ["{{len .Mounts}}", "2"],
  ['{{printf "%s=%d" .Id .State.ExitCode}}', "abc=3"],
  ["{{with .State}}{{.Status}}{{end}}", "exited"],
  ["a {{- .Id -}} b", "aabcb"],
  ["{{/* comment */}}x", "x"],
  ["{{$x := .Id}}{{$x}}-{{$.Name}}", "abc-/web"],
  ["{{range .Mounts}}{{$.Id}}{{end}}", "abcabc"],
  ["{{truncate .Name 2}}", "/w"],
  ['{{split "a:b" ":"}}', "[a b]"],
  ["{{json .}}", '{"n":1.5,"s":"<&>"}', { n: 1.5, s: "<&>" }],
];

for (const [tmpl, want, data] of CASES) {
  Deno.test(`go template: ${tmpl}`, () => {
    assert.equal(renderTemplate(tmpl, data ?? DATA), want);
  });
}

const ERRORS: Array<[string, RegExp]> = [
  ["{{.Name.X}}", /can't evaluate field X in type string/],
  ["{{if .Id}}", /unexpected EOF/],
  ["{{end}}", /unexpected \{\{end\}\}/],
  ["{{nofunc .}}", /function "nofunc" not defined/],
  ["{{.Id", /unclosed action/],
  ["{{$nope}}", /undefined variable "\$nope"/],
];

for (const [tmpl, re] of ERRORS) {
  Deno.test(`go template error: ${tmpl}`, () => {
    assert.throws(
      () => renderTemplate(tmpl, DATA),
      (e: unknown) => e instanceof TemplateError && re.test(e.message),
    );
  });
}
