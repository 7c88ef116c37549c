#!/usr/bin/env node
// Regenerates the console screenshots in the README (docs/console-*.png):
// starts a real hookd with a temporary database, posts a realistic mix of
// webhooks (and some rejections) over ~20 s, and photographs /ui in
// Debian's chromium at 1280 px (desktop) and 390 px (phone).
//   node scripts/screenshots.mjs        (HOOKD_BIN=... to pick a binary)
// Needs tests/browser's node_modules (cd tests/browser && npm ci).
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
process.env.HOOKD_BIN ||= resolve(ROOT, "build-test-release/hookd");
const { startHookd, post, message, launch } = await import(resolve(ROOT, "tests/browser/lib.mjs"));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const senders = ["+919876543210", "+14155550123", "+447700900321", "+5511987654321", "+81312345678"];
const texts = [
  "Hi! Is my order #4411 on its way?",
  "Thanks, received. See you at 10:30",
  "Can we move tomorrow's call to 3 pm?",
  "Ticket 2231: the payment page shows an error after I enter my card number, then it reloads and my cart is empty again.",
  "ok",
  "Bonjour, été à Paris — merci !",
  null,
  "Please send the invoice for November.",
];

const hookd = await startHookd();
try {
  let n = 0;
  const send = async (k) => {
    for (let i = 0; i < k; i++) {
      n++;
      const ts = new Date(Date.now() - (200 - n) * 47000).toISOString().replace(/\.\d+Z$/, "Z");
      await post(hookd.base, message({ from: senders[n % senders.length], ts, text: texts[n % texts.length] }));
    }
  };
  await send(40);
  for (let s = 0; s < 16; s++) {           // a little live traffic for the charts
    await send(2 + (s % 4) * 3);
    if (s % 3 === 0) await post(hookd.base, message(), "0".repeat(64));
    if (s % 5 === 0) await post(hookd.base, { message_id: `bad-${s}`, from: "12345", to: "+1", ts: "yesterday" });
    await sleep(1000);
  }
  const browser = await launch();
  for (const [name, width, height] of [["desktop", 1280, 1500], ["phone", 390, 1500]]) {
    const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
    await page.goto(`${hookd.base}/ui`);
    await page.waitForSelector("#rows .row");
    await send(3);
    await sleep(1500);
    await page.screenshot({ path: resolve(ROOT, `docs/console-${name}.png`), fullPage: false });
    await page.close();
  }
  await browser.close();
  console.log("wrote docs/console-desktop.png and docs/console-phone.png");
} finally {
  await hookd.stop();
}
