// Drives noVNC's vnc_lite.html in a Chromium the Go test started, over CDP:
// waits for "Connected", samples canvas pixels, clicks the canvas and types
// a key. Usage: node novnc.mjs CDP_URL PAGE_URL X,Y [X,Y ...]
// Prints one JSON line: status, canvas size, the pixels at the points.
import { chromium } from 'playwright-core';

const [cdpURL, pageURL, ...points] = process.argv.slice(2);

function fail(msg) {
  console.log(JSON.stringify({ ok: false, error: String(msg) }));
  process.exit(1);
}

try {
  const browser = await chromium.connectOverCDP(cdpURL, { timeout: 20000 });
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const page = await context.newPage();
  const console_ = [];
  page.on('console', (m) => console_.push(m.text()));
  await page.goto(pageURL, { timeout: 20000 });
  await page.waitForFunction(
    () => document.getElementById('status')?.textContent.startsWith('Connected'),
    null, { timeout: 20000 });
  // Wait until the framebuffer has been drawn: the canvas has the server's
  // size and a non-black pixel somewhere (a desktop's colour, or the text
  // a halted QEMU shows).
  await page.waitForFunction(() => {
    const c = document.querySelector('#screen canvas');
    if (!c || c.width < 100) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] + d[i + 1] + d[i + 2] > 0) return true;
    }
    return false;
  }, null, { timeout: 20000 });
  const pts = points.map((p) => p.split(',').map(Number));
  const result = await page.evaluate((pts) => {
    const c = document.querySelector('#screen canvas');
    const ctx = c.getContext('2d');
    return {
      status: document.getElementById('status').textContent,
      width: c.width,
      height: c.height,
      pixels: pts.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3))),
    };
  }, pts);
  const box = await page.locator('#screen canvas').boundingBox();
  await page.mouse.move(box.x + 50, box.y + 50);
  await page.mouse.click(box.x + 50, box.y + 50);
  await page.waitForTimeout(300);
  await page.keyboard.press('a');
  await page.waitForTimeout(500);
  console.log(JSON.stringify({ ok: true, ...result, console: console_.slice(-5) }));
  await browser.close();
  process.exit(0);
} catch (e) {
  fail(e);
}
