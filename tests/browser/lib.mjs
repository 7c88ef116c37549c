// Shared by the browser tests and scripts/screenshots.mjs: start a real
// hookd on 127.0.0.1:0 with a temporary database, sign and post webhooks,
// and launch Debian's chromium through playwright-core.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
export const SECRET = "browser-test-secret";
export const HOOKD_BIN = process.env.HOOKD_BIN || resolve(HERE, "../../build/hookd");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// Starts hookd; resolves once its `listening` log line names the port.
export async function startHookd(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "hookd-browser-"));
  const full = {
    PATH: process.env.PATH, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "WARN",
    DATABASE_URL: `sqlite:///${join(dir, "hookd.db")}`, WEBHOOK_SECRET: SECRET,
  };
  for (const [k, v] of Object.entries(process.env)) if (/^(ASAN|UBSAN|LSAN)_/.test(k)) full[k] = v;
  Object.assign(full, env);
  if (full.LOG_LEVEL === "WARN") full.LOG_LEVEL = "INFO"; // the listening line is INFO
  const proc = spawn(HOOKD_BIN, [], { env: full, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => { stderr += d; });
  const port = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`hookd did not start: ${stderr}`)), 20000);
    const lines = createInterface({ input: proc.stdout });
    lines.on("line", (line) => {
      try {
        const rec = JSON.parse(line);
        if (rec.event === "listening") { clearTimeout(timer); ok(rec.port); }
      } catch { /* not JSON: ignore */ }
    });
    proc.on("exit", (code) => { clearTimeout(timer); fail(new Error(`hookd exited ${code}: ${stderr}`)); });
  });
  const exited = new Promise((ok) => proc.on("exit", (code, sig) => ok(code ?? sig)));
  return {
    port, base: `http://127.0.0.1:${port}`, proc, dir,
    stderr: () => stderr,
    // SIGTERM; hookd must exit 0 (and a sanitizer report fails the caller).
    async stop() {
      proc.kill("SIGTERM");
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`hookd exited ${code} on SIGTERM: ${stderr}`);
      if (/Sanitizer/.test(stderr)) throw new Error(`sanitizer report:\n${stderr}`);
    },
  };
}

export function sign(body) {
  return createHmac("sha256", SECRET).update(body).digest("hex");
}

let counter = 0;
export function message(fields = {}) {
  counter++;
  return {
    message_id: `m-${process.pid}-${counter}`,
    from: "+919876543210",
    to: "+14155550100",
    ts: "2025-01-15T10:00:00Z",
    text: `Hello ${counter}`,
    ...fields,
  };
}

export async function post(base, msg, signature) {
  const body = typeof msg === "string" ? msg : JSON.stringify(msg);
  const r = await fetch(`${base}/webhook`, {
    method: "POST", body, headers: { "X-Signature": signature ?? sign(body) },
  });
  await r.arrayBuffer();
  return r.status;
}

export async function getJson(base, path, headers = {}) {
  const r = await fetch(base + path, { headers });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
