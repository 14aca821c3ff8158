// Loads vncrelay's /status page in a Chromium the Go test started, over CDP,
// reads the figures and the consoles table from the rendered DOM, and saves
// a full-page screenshot. Usage: node status.mjs CDP_URL PAGE_URL PNG_PATH
// Prints one JSON line.
import { chromium } from 'playwright-core';

const [cdpURL, pageURL, pngPath] = process.argv.slice(2);

try {
  const browser = await chromium.connectOverCDP(cdpURL, { timeout: 20000 });
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const resp = await page.goto(pageURL, { timeout: 20000, waitUntil: 'load' });
  const result = await page.evaluate(() => {
    const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
    const rows = Array.from(document.querySelectorAll('#consoles tbody tr')).map((tr) => {
      const td = Array.from(tr.querySelectorAll('td')).map((c) => c.textContent.trim());
      return { client: td[0], target: td[1], token: td[2], state: td[3], loop: td[4], age: td[5],
        bytesIn: Number(td[6]), bytesOut: Number(td[7]), paused: td[8] };
    });
    const loops = Array.from(document.querySelectorAll('#loops tbody tr')).map((tr) =>
      Array.from(tr.querySelectorAll('td')).map((c) => Number(c.textContent.trim())));
    return {
      title: document.title,
      consolesOpen: Number(text('consoles-open')),
      bytesIn: Number(text('bytes-in')),
      bytesOut: Number(text('bytes-out')),
      refresh: document.querySelector('meta[http-equiv="refresh"]')?.getAttribute('content') ?? null,
      scripts: document.querySelectorAll('script').length,
      headings: Array.from(document.querySelectorAll('#consoles thead th')).map((th) => th.textContent.trim()),
      rows,
      loops,
      html: document.documentElement.outerHTML,
    };
  });
  await page.screenshot({ path: pngPath, fullPage: true });
  console.log(JSON.stringify({ ok: true, status: resp.status(), requests, ...result }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
  process.exit(1);
}
