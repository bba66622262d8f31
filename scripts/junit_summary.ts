/**
 * Reads deno test's JUnit XML and prints "N passed, N failed[, N skipped]".
 * Exits 1 when the file is missing or no test ran, so an empty run never looks green. The
 * second argument is deno test's exit code: a failure outside every test case (type checking,
 * a module that does not load) counts as one failed test rather than vanishing from the line.
 */
const file = Deno.args[0];
const denoExit = Number(Deno.args[1] ?? "0");
let xml = "";
try {
  xml = Deno.readTextFileSync(file);
} catch {
  console.log("0 passed, 1 failed");
  console.error(`junit report "${file}" was not written`);
  Deno.exit(1);
}
let passed = 0, failed = 0, skipped = 0;
for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
  const body = m[2] ?? "";
  if (/<(failure|error)\b/.test(body)) failed++;
  else if (/<skipped\b/.test(body)) skipped++;
  else passed++;
}
if (denoExit !== 0 && failed === 0) {
  failed = 1;
  console.error(`deno test exited with ${denoExit} outside any test case (see above)`);
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
if (passed + failed === 0) Deno.exit(1);
