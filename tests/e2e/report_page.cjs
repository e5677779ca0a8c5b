// Drives report.html in headless Chromium for tests/e2e/report_page.rs:
// uses the filters, sorting, the matrix and a case's article, watches for
// console errors, page errors, dialogs, requests and CSP violations, and
// prints what it saw as one line of JSON. The Rust test decides.
//
//   PLAYWRIGHT_CORE=.../node_modules/playwright-core CHROMIUM=/usr/bin/chromium \
//     node tests/e2e/report_page.cjs report.html
"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE);

async function main(file) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    return await check(browser, file);
  } finally {
    await browser.close();
  }
}

async function check(browser, file) {
  const page = await browser.newPage();
  const seen = { console: [], errors: [], dialogs: 0, requests: [] };
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") seen.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("dialog", (d) => {
    seen.dialogs += 1;
    d.dismiss();
  });
  page.on("request", (r) => {
    if (!/^(file|data):/.test(r.url())) seen.requests.push(r.url());
  });
  // Added through the DevTools protocol, so the page's policy does not
  // apply to it: it only listens.
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  await page.goto("file://" + file);
  try {
    await use(page, seen);
  } catch (error) {
    // Still report what ran: a page an answer broke fails the filters,
    // and the test should say whether something hostile ran as well.
    seen.failure = String(error);
  }
  seen.pwned = await page.evaluate(() =>
    window.__pwned === undefined && window.parent.__pwned === undefined ? null : String(window.__pwned),
  );
  seen.violations = await page.evaluate(() => window.__violations);
  seen.scripts = await page.evaluate(() => document.scripts.length);
  seen.frames = page.frames().length;
  seen.hostile_text = await page.evaluate(() =>
    document.body.textContent.includes("<script>window.__pwned=1;alert(1)</script>"),
  );
  return seen;
}

// The filters, sorting, the matrix and an article, as a reviewer uses them.
async function use(page, seen) {
  const visible = () => page.locator("#cases-table tbody tr:not([hidden])").count();
  const settled = () =>
    page.waitForFunction(
      () => document.getElementById("shown").dataset.count ===
        String(document.querySelectorAll("#cases-table tbody tr:not([hidden])").length),
    );
  const reset = async () => {
    await page.click("#filters button[type=reset]");
    await page.waitForFunction(
      () => document.getElementById("shown").dataset.count ===
        String(document.querySelectorAll("#cases-table tbody tr").length),
    );
  };

  seen.total = await visible();
  await page.check("input[name=flipped]");
  seen.flipped = await visible();
  await page.check("input[name=failing]");
  seen.flipped_failing = await visible();
  await settled();
  seen.shown = await page.textContent("#shown");
  await reset();
  seen.after_reset = await visible();
  await page.selectOption("select[name=cause]", "new");
  seen.cause_new = await visible();
  await page.selectOption("select[name=cause]", "removed");
  seen.cause_removed = await visible();
  await reset();
  await page.selectOption("select[name=prompt]", "1");
  seen.prompt = await visible();
  await page.selectOption("select[name=provider]", "0");
  seen.prompt_provider = await visible();
  await reset();
  await page.fill("input[name=q]", "c3");
  seen.search = await visible();
  await reset();

  const scores = () =>
    page.$$eval("#cases-table tbody tr", (rows) => rows.map((r) => r.cells[5].textContent));
  await page.click("#cases-table thead th:nth-child(6) button");
  seen.scores_up = await scores();
  await page.click("#cases-table thead th:nth-child(6) button");
  seen.scores_down = await scores();

  await page.click(".matrix button >> nth=0");
  seen.matrix_cell = await visible();
  await reset();

  await page.check("input[name=flipped]");
  await page.click("#cases-table tbody tr:not([hidden]) td a >> nth=0");
  seen.article = await page.evaluate(() => {
    const a = document.querySelector("article.case:target");
    return a && {
      visible: getComputedStyle(a).display !== "none",
      dels: a.querySelectorAll("pre.diff del").length,
      ins: a.querySelectorAll("pre.diff ins").length,
    };
  });
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => !document.querySelector("article.case:target"));
  seen.closed = true;
}

main(process.argv[2]).then(
  (seen) => console.log(JSON.stringify(seen)),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
