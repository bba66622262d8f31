import assert from "node:assert/strict";
import { alignTabs, renderList } from "../../src/cli/table.ts";
import {
  containerStatusText,
  humanDuration,
  humanSize,
  shortId,
  timeAgo,
} from "../../src/cli/units.ts";

Deno.test("humanSize: base 1000, three significant digits", () => {
  const cases: Array<[number, string]> = [
    [0, "0B"],
    [999, "999B"],
    [1000, "1kB"],
    [1234, "1.23kB"],
    [4261234, "4.26MB"],
    [12_345_678, "12.3MB"],
    [123_456_789, "123MB"],
    [1_500_000_000, "1.5GB"],
    [999_950, "1e+03kB"], // Go's %.3g does this too
  ];
  for (const [n, want] of cases) assert.equal(humanSize(n), want, String(n));
});

Deno.test("humanDuration: docker's words", () => {
  const s = 1000;
  const cases: Array<[number, string]> = [
    [500, "Less than a second"],
    [1 * s, "1 second"],
    [5 * s, "5 seconds"],
    [60 * s, "About a minute"],
    [119 * s, "About a minute"],
    [120 * s, "2 minutes"],
    [3600 * s, "About an hour"],
    [3 * 3600 * s, "3 hours"],
    [3 * 24 * 3600 * s, "3 days"],
    [15 * 24 * 3600 * s, "2 weeks"],
    [90 * 24 * 3600 * s, "3 months"],
    [800 * 24 * 3600 * s, "2 years"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, String(ms));
});

Deno.test("status text and time ago", () => {
  const now = Date.parse("2025-01-01T00:10:00Z");
  assert.equal(timeAgo("2025-01-01T00:08:00Z", now), "2 minutes ago");
  assert.equal(containerStatusText({ Status: "created" }, now), "Created");
  assert.equal(
    containerStatusText({ Status: "running", StartedAt: "2025-01-01T00:09:55Z" }, now),
    "Up 5 seconds",
  );
  assert.equal(
    containerStatusText(
      { Status: "exited", ExitCode: 3, FinishedAt: "2025-01-01T00:08:00Z" },
      now,
    ),
    "Exited (3) 2 minutes ago",
  );
  assert.equal(shortId("sha256:0123456789abcdef0123"), "0123456789ab");
});

Deno.test("alignTabs: minwidth 10, padding 3, last cell unpadded", () => {
  assert.deepEqual(alignTabs(["REPOSITORY\tTAG\tIMAGE ID", "busybox\tlatest\tabc"]), [
    "REPOSITORY   TAG       IMAGE ID",
    "busybox      latest    abc",
  ]);
});

Deno.test("renderList: table with headers, plain template, json", () => {
  const rows = [{ ID: "a1", Names: "web" }, { ID: "b2", Names: "db" }];
  const spec = { defaultTable: "table {{.ID}}\t{{.Names}}", headers: { ID: "CONTAINER ID" } };
  assert.equal(
    renderList(rows, { ...spec, format: "" }),
    "CONTAINER ID   NAMES\na1             web\nb2             db\n",
  );
  assert.equal(
    renderList(rows, { ...spec, format: "table {{.Names}}\\t{{.ID}}" }),
    "NAMES     CONTAINER ID\nweb       a1\ndb        b2\n",
  );
  assert.equal(renderList(rows, { ...spec, format: "{{.ID}}:{{.Names}}" }), "a1:web\nb2:db\n");
  assert.equal(
    renderList(rows, { ...spec, format: "json" }),
    '{"ID":"a1","Names":"web"}\n{"ID":"b2","Names":"db"}\n',
  );
  assert.equal(renderList([], { ...spec, format: "" }), "CONTAINER ID   NAMES\n");
});
