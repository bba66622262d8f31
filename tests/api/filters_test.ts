import assert from "node:assert/strict";
import { checkFilterNames, matchLabels, parseFilters } from "../../src/api/filters.ts";

Deno.test("filters: the CLI's set form and dockerode's list form parse alike", () => {
  const a = parseFilters('{"label":{"k=v":true,"off":false},"status":{"running":true}}');
  const b = parseFilters('{"label":["k=v"],"status":["running"]}');
  assert.deepEqual([...a], [["label", ["k=v"]], ["status", ["running"]]]);
  assert.deepEqual([...a], [...b]);
  assert.equal(parseFilters(null).size, 0);
  assert.equal(parseFilters("").size, 0);
  assert.equal(parseFilters("{}").size, 0);
});

Deno.test("filters: bad JSON and unknown names are InvalidArgument (400)", () => {
  assert.throws(
    () => parseFilters("{nope"),
    (e: unknown) => (e as { httpStatus: number }).httpStatus === 400,
  );
  assert.throws(() => parseFilters("[1]"), /expected a JSON object/);
  assert.throws(
    () => checkFilterNames(parseFilters('{"bogus":["x"]}'), ["label"]),
    /invalid filter 'bogus'/,
  );
});

Deno.test("matchLabels: key presence and key=value", () => {
  const labels = { a: "1", b: "" };
  assert.ok(matchLabels(labels, ["a"]));
  assert.ok(matchLabels(labels, ["a=1", "b="]));
  assert.ok(!matchLabels(labels, ["a=2"]));
  assert.ok(!matchLabels(labels, ["c"]));
  assert.ok(!matchLabels(null, ["a"]));
});
