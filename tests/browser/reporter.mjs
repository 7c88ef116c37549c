// node --test reporter for hookd's test command: one line per test, the
// failures in full, and last the line scripts/test_summary.py adds up:
// "N passed, N failed". Suites (describe) are not counted, their tests are.
export default async function* reporter(source) {
  let passed = 0, failed = 0;
  for await (const ev of source) {
    const d = ev.data || {};
    if (ev.type === "test:pass" || ev.type === "test:fail") {
      if (d.details && d.details.type === "suite") continue;
      const ms = d.details && d.details.duration_ms ? ` (${Math.round(d.details.duration_ms)} ms)` : "";
      if (ev.type === "test:pass" && !d.skip && !d.todo) {
        passed++;
        yield `ok   ${d.name}${ms}\n`;
      } else {
        failed++; // a skipped test counts as failed: no test may be skipped silently
        const err = d.details && d.details.error;
        const why = d.skip ? "skipped" : err ? (err.cause && err.cause.stack) || err.stack || String(err) : "";
        yield `FAIL ${d.name}${ms}\n${why}\n`;
      }
    } else if (ev.type === "test:diagnostic" && d.nesting === 0 && !/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(d.message)) {
      yield `# ${d.message}\n`;
    } else if (ev.type === "test:stderr" || ev.type === "test:stdout") {
      yield d.message;
    }
  }
  yield `${passed} passed, ${failed} failed\n`;
}
