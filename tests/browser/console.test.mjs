// The console page in a real browser (Debian's chromium driven by
// playwright-core) against a real hookd on 127.0.0.1:0 with a temporary
// database. Each test starts its own hookd; the browser is shared.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { getJson, launch, message, post, startHookd } from "./lib.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A page on hookd's /ui that records console errors, page errors, failed
// requests and any JavaScript dialog (alert) it opens.
async function openConsole(hookd, { viewport = { width: 1280, height: 900 }, route } = {}) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e}`));
  page.on("dialog", async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  if (route) await route(page);
  await page.goto(`${hookd.base}/ui`);
  return { page, ctx, problems };
}

async function withHookd(fn, env) {
  const hookd = await startHookd(env);
  try {
    await fn(hookd);
  } finally {
    await hookd.stop();
  }
}

const rowIds = (page, list) =>
  page.$$eval(`#${list} .row`, (rows) => rows.map((r) => r.dataset.id));

test("/ui and / serve the page, the favicon is served, and it loads without errors", () =>
  withHookd(async (hookd) => {
    const ui = await fetch(`${hookd.base}/ui`);
    const root = await fetch(`${hookd.base}/`);
    assert.equal(ui.status, 200);
    assert.equal(root.status, 200);
    assert.equal(ui.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await ui.text();
    assert.equal(html, await root.text());
    assert.match(html, /<title>hookd<\/title>/);
    const icon = await fetch(`${hookd.base}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get("content-type"), "image/svg+xml");
    assert.match(await icon.text(), /^<svg /);

    await post(hookd.base, message());
    const { page, ctx, problems } = await openConsole(hookd);
    await page.waitForSelector("#conn.live", { timeout: 5000 });
    await page.waitForSelector("#rows .row");
    await sleep(1500); // a few snapshots and refreshes
    assert.deepEqual(problems, []);
    assert.equal(await page.textContent("#k-total"), "1");
    // The favicon was asked for and answered (any 404 would be in problems).
    const icons = [];
    page.on("response", (r) => { if (r.url().endsWith("/favicon.ico")) icons.push(r.status()); });
    await page.goto(`${hookd.base}/`);
    await page.waitForSelector("#rows .row");
    await page.waitForFunction(() => document.querySelector("link[rel=icon]") !== null);
    assert.ok(icons.every((s) => s === 200), JSON.stringify(icons));
    assert.deepEqual(problems, []);
    await ctx.close();
  }));

test("a signed POST appears within 1 s through the stream", () =>
  withHookd(async (hookd) => {
    const { page, ctx, problems } = await openConsole(hookd);
    await page.waitForSelector("#conn.live", { timeout: 5000 });
    // From here on polling could not deliver anything: only the stream can.
    await page.route("**/snapshot*", (r) => r.abort());
    await page.route("**/messages*", (r) => r.abort());
    const sent = [];
    for (let i = 0; i < 3; i++) {
      const m = message({ text: `live ${i}` });
      sent.unshift(m.message_id);
      assert.equal(await post(hookd.base, m), 200);
      const t0 = Date.now();
      await page.waitForSelector(`#arrivals .row[data-id="${m.message_id}"]`, { timeout: 1000 });
      assert.ok(Date.now() - t0 <= 1000);
    }
    assert.deepEqual(await rowIds(page, "arrivals"), sent); // newest arrival first
    assert.equal(await page.textContent("#conn"), "live");
    assert.deepEqual(problems.filter((p) => !p.includes("ERR_FAILED")), []);
    await ctx.close();
  }));

test("with the stream blocked the page still updates by polling", () =>
  withHookd(async (hookd) => {
    const { page, ctx, problems } = await openConsole(hookd, {
      route: (p) => p.route("**/events*", (r) => r.abort()),
    });
    await page.waitForSelector("#conn.polling", { timeout: 5000 });
    const m = message({ text: "arrived while the stream was blocked" });
    assert.equal(await post(hookd.base, m), 200);
    await page.waitForSelector(`#arrivals .row[data-id="${m.message_id}"]`, { timeout: 3000 });
    await page.waitForSelector(`#rows .row[data-id="${m.message_id}"]`, { timeout: 7000 });
    await page.waitForFunction(() => document.querySelector("#k-total").textContent === "1",
      null, { timeout: 7000 });
    assert.equal(await page.textContent("#conn"), "polling");
    // Only the blocked stream may fail (chromium logs it without its URL).
    assert.deepEqual(problems.filter((p) => !p.includes("/events") && !p.includes("net::ERR_FAILED")), []);
    await ctx.close();
  }));

test("search, filters and paging show the same rows as the API", () =>
  withHookd(async (hookd) => {
    const senders = ["+15550001", "+15550002", "+15550003"];
    for (let i = 0; i < 47; i++) {
      const ts = `2025-02-${String(1 + (i % 9)).padStart(2, "0")}T${String(i % 24).padStart(2, "0")}:00:00Z`;
      const text = i % 3 === 0 ? `Invoice ÉTÉ #${i}` : i % 3 === 1 ? `hello ${i}` : null;
      assert.equal(await post(hookd.base, message({ from: senders[i % 3], ts, text })), 200);
    }
    const { page, ctx, problems } = await openConsole(hookd);
    await page.waitForSelector("#rows .row");
    const check = async (params, what) => {
      const api = await getJson(hookd.base, `/messages?${params}`);
      await page.waitForFunction((want) => {
        const got = [...document.querySelectorAll("#rows .row")].map((r) => r.dataset.id);
        return JSON.stringify(got) === JSON.stringify(want);
      }, api.data.map((d) => d.message_id), { timeout: 5000 }).catch(async () => {
        assert.deepEqual(await rowIds(page, "rows"), api.data.map((d) => d.message_id), what);
      });
      const first = api.data.length ? api.offset + 1 : 0;
      const count = await page.textContent("#count");
      assert.ok(count.startsWith(`${api.data.length ? `${first}–${api.offset + api.data.length}` : "0"} of ${api.total}`),
        `${what}: "${count}" for ${JSON.stringify({ total: api.total, offset: api.offset })}`);
      return api;
    };
    let api = await check("order=desc&limit=20&offset=0", "first page");
    assert.equal(api.total, 47);
    await page.click("#next");
    await check("order=desc&limit=20&offset=20", "second page");
    await page.click("#next");
    api = await check("order=desc&limit=20&offset=40", "last page");
    assert.equal(api.data.length, 7);
    assert.ok(await page.isDisabled("#next"));
    await page.click("#prev");
    await check("order=desc&limit=20&offset=20", "back");

    await page.fill("#f-from", senders[1]);
    await check(`order=desc&limit=20&offset=0&from=${encodeURIComponent(senders[1])}`, "sender");
    await page.fill("#f-q", "été");
    await check(`order=desc&limit=20&offset=0&from=${encodeURIComponent(senders[1])}&q=${encodeURIComponent("été")}`, "sender+q");
    await page.fill("#f-from", "");
    api = await check(`order=desc&limit=20&offset=0&q=${encodeURIComponent("été")}`, "q");
    assert.ok(api.total > 0 && (await page.textContent("#count")).includes("matching"));
    await page.fill("#f-since", "2025-02-05T00:00:00Z");
    await check(`order=desc&limit=20&offset=0&q=${encodeURIComponent("été")}&since=2025-02-05T00:00:00Z`, "q+since");
    await page.selectOption("#f-order", "asc");
    await check(`order=asc&limit=20&offset=0&q=${encodeURIComponent("été")}&since=2025-02-05T00:00:00Z`, "asc");
    await page.fill("#f-q", "");
    await page.fill("#f-since", "");
    await check("order=asc&limit=20&offset=0", "cleared");
    // A bad filter is explained, not silently ignored.
    await page.fill("#f-since", "yesterday");
    await page.waitForSelector("#filter-error:not([hidden])");
    assert.match(await page.textContent("#filter-error"), /since/);
    assert.deepEqual(problems.filter((p) => !p.includes("422")), []);
    await ctx.close();
  }));

test("the detail view shows every field and the full text, and copies it", () =>
  withHookd(async (hookd) => {
    const text = `First line\n\tindented\n${"long text ".repeat(400)}END`;
    const m = message({ text, ts: "2025-03-01T12:34:56.789123Z" });
    await post(hookd.base, m);
    const { page, ctx, problems } = await openConsole(hookd);
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.click(`#rows .row[data-id="${m.message_id}"]`);
    await page.waitForSelector("#detail[open]");
    assert.equal(await page.textContent("#d-text"), text);
    const fields = await page.$$eval("#d-fields dt", (dts) => dts.map((d) => d.textContent));
    assert.deepEqual(fields, ["message_id", "from", "to", "ts", "text"]);
    const values = await page.$$eval("#d-fields dd", (dds) => dds.map((d) => d.firstChild.textContent));
    assert.deepEqual(values.slice(0, 4), [m.message_id, m.from, m.to, m.ts]);
    const hover = await page.getAttribute(`#rows .row[data-id="${m.message_id}"] time`, "title");
    assert.equal(hover, m.ts); // raw ts on hover
    await page.click("#d-copy");
    await page.waitForFunction(() => document.querySelector("#d-copy").textContent === "Copied");
    const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
    assert.deepEqual(copied, m);
    await page.click("#d-close");
    assert.equal(await page.$("#detail[open]"), null);
    assert.deepEqual(problems, []);
    await ctx.close();
  }));

test("at 390 px nothing overflows horizontally and the text is visible", () =>
  withHookd(async (hookd) => {
    await post(hookd.base, message({ text: "x".repeat(600) }));           // one unbroken word
    await post(hookd.base, message({ text: "A normal sentence that is long enough to wrap on a phone screen." }));
    await post(hookd.base, message({ message_id: "id-" + "y".repeat(200), text: "long id" }));
    await post(hookd.base, { message_id: "bad" }, "0".repeat(64));     // a rejection row
    const { page, ctx, problems } = await openConsole(hookd, { viewport: { width: 390, height: 844 } });
    await page.waitForSelector("#rows .row");
    await page.waitForSelector("#rejections .row");
    await sleep(500);
    const sizes = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
      body: document.body.scrollWidth,
    }));
    assert.ok(sizes.scroll <= 390 && sizes.body <= 390, JSON.stringify(sizes));
    const texts = await page.$$eval("#rows .row .text", (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      const cs = getComputedStyle(e);
      return { w: r.width, h: r.height, right: r.right, vis: cs.visibility, font: parseFloat(cs.fontSize) };
    }));
    assert.equal(texts.length, 3);
    for (const t of texts) {
      assert.ok(t.w >= 250 && t.h >= 14 && t.right <= 390 && t.vis === "visible" && t.font >= 14, JSON.stringify(t));
    }
    // Nothing on the page sticks out of the viewport.
    const wide = await page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > 391 && getComputedStyle(e).position !== "fixed")
      .map((e) => e.tagName + "." + e.className));
    assert.deepEqual(wide, []);
    // The detail view fits too.
    await page.click("#rows .row >> nth=0");
    await page.waitForSelector("#detail[open]");
    const box = await page.$eval("#detail", (d) => d.getBoundingClientRect().toJSON());
    assert.ok(box.left >= 0 && box.right <= 390, JSON.stringify(box));
    assert.deepEqual(problems, []);
    await ctx.close();
  }));

test("<img src=x onerror=alert(1)> in a message stays text everywhere", () =>
  withHookd(async (hookd) => {
    const evil = "<img src=x onerror=alert(1)>";
    const m = message({ message_id: `${evil}-id`, text: `${evil} <script>alert(2)</script>` });
    const { page, ctx, problems } = await openConsole(hookd);
    await page.waitForSelector("#conn.live", { timeout: 5000 });
    await post(hookd.base, m);
    await post(hookd.base, { message_id: evil, from: "x" });               // 422: shows in rejections
    await page.waitForSelector("#arrivals .row");
    await page.waitForSelector("#rows .row");
    await page.waitForSelector("#rejections .row");
    await page.click("#rows .row >> nth=0");
    await page.waitForSelector("#detail[open]");
    assert.equal(await page.$$eval("main img, dialog img, main script, dialog script", (e) => e.length), 0);
    assert.equal(await page.textContent("#arrivals .row .text"), m.text);
    assert.equal(await page.textContent("#rows .row .text"), m.text);
    assert.equal(await page.textContent("#d-title"), m.message_id);
    assert.equal(await page.textContent("#d-text"), m.text);
    assert.match(await page.textContent("#rejections .row .meta"), /message_id <img src=x onerror=alert\(1\)>$/);
    await sleep(500);
    assert.deepEqual(problems.filter((p) => !p.startsWith("HTTP 404 ") || !p.includes("/x")), []);
    assert.ok(!problems.some((p) => p.startsWith("dialog")));
    await ctx.close();
  }));

test("an empty database shows a signed curl example, then the first message", () =>
  withHookd(async (hookd) => {
    const { page, ctx, problems } = await openConsole(hookd);
    await page.waitForSelector("#empty:not([hidden])");
    const curl = await page.textContent("#curl");
    assert.match(curl, /openssl dgst -sha256 -hmac "\$WEBHOOK_SECRET"/);
    assert.ok(curl.includes(`curl -s -X POST ${hookd.base}/webhook -H "X-Signature: $sig"`), curl);
    assert.equal(await post(hookd.base, message()), 200);
    await page.waitForSelector("#empty[hidden]", { state: "attached", timeout: 3000 });
    await page.waitForSelector("#rows .row");
    assert.deepEqual(problems, []);
    await ctx.close();
  }));

test("a clear banner says when hookd is unreachable", async () => {
  const hookd = await startHookd();
  const { page, ctx } = await openConsole(hookd);
  try {
    await page.waitForSelector("#conn.live", { timeout: 5000 });
    assert.ok(!(await page.isVisible("#banner")));
  } finally {
    await hookd.stop();
  }
  await page.waitForSelector("#banner.show", { timeout: 5000 });
  assert.match(await page.textContent("#banner"), /unreachable/);
  assert.equal(await page.textContent("#conn"), "unreachable");
  await ctx.close();
});

test("the page's own requests are not counted as traffic", () =>
  withHookd(async (hookd) => {
    const { page, ctx } = await openConsole(hookd);
    await page.waitForSelector("#conn.live", { timeout: 5000 });
    await sleep(3000); // the page polls /stats, reads /messages, /rejections...
    const s = await getJson(hookd.base, "/snapshot?history=10");
    assert.ok(s.requests.console >= 3, JSON.stringify(s.requests));
    // Only this test's own /snapshot call is outside the console label.
    assert.equal(s.requests["2xx"] + s.requests["4xx"] + s.requests["5xx"], 0, JSON.stringify(s.requests));
    assert.equal(s.history.req_2xx.reduce((a, b) => a + b, 0), 0);
    await ctx.close();
  }));
