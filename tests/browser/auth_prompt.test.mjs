// The console when reads need a bearer token (issue 13: READ_TOKENS; a
// protected route answers 401 with WWW-Authenticate: Bearer, and /events
// also takes ?access_token=). NOT run by scripts/test.sh on the console
// branch, whose hookd has no tokens yet: run it after merging the auth
// work with
//   cd tests/browser && HOOKD_BIN=../../build/hookd node --test \
//     --test-reporter=./reporter.mjs auth_prompt.test.mjs
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launch, message, post, startHookd } from "./lib.mjs";

const TOKEN = "console-read-token-0123456789";
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test("a 401 asks for a token, keeps it in the tab and sends it everywhere", async () => {
  const hookd = await startHookd({ READ_TOKENS: TOKEN });
  try {
    const m = message({ text: "behind a token" });
    assert.equal(await post(hookd.base, m), 200);
    const direct = await fetch(`${hookd.base}/messages`);
    assert.equal(direct.status, 401, "this hookd does not protect reads: merge the auth work first");
    assert.match(direct.headers.get("www-authenticate") || "", /^Bearer/);

    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const auth = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === "/events") auth.push(["events", u.searchParams.get("access_token")]);
      else if (["/messages", "/stats", "/snapshot", "/rejections"].includes(u.pathname))
        auth.push([u.pathname, r.headers().authorization || null]);
    });
    await page.goto(`${hookd.base}/ui`);
    await page.waitForSelector("#token-dialog[open]", { timeout: 5000 });
    // A wrong token: asked again.
    await page.fill("#token-input", "wrong");
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#token-dialog[open]", { timeout: 5000 });
    await page.fill("#token-input", TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector(`#rows .row[data-id="${m.message_id}"]`, { timeout: 5000 });
    await page.waitForSelector("#conn.live", { timeout: 5000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem("hookd.read_token")), TOKEN);
    const after401 = auth.filter(([, v]) => v === `Bearer ${TOKEN}` || v === TOKEN);
    assert.ok(after401.some(([p]) => p === "/messages"));
    assert.ok(after401.some(([p]) => p === "events"), JSON.stringify(auth));

    // Live updates flow through the authorised stream.
    const m2 = message({ text: "live behind a token" });
    assert.equal(await post(hookd.base, m2), 200);
    await page.waitForSelector(`#arrivals .row[data-id="${m2.message_id}"]`, { timeout: 1500 });

    // A reload keeps the token (same tab); a new tab asks again.
    await page.reload();
    await page.waitForSelector("#rows .row");
    assert.equal(await page.$("#token-dialog[open]"), null);
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${hookd.base}/ui`);
    await other.waitForSelector("#token-dialog[open]", { timeout: 5000 });
    await other.context().close();
    await ctx.close();
  } finally {
    await hookd.stop();
  }
});
