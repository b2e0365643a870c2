// Lighthouse's accessibility score on the client pages, per client language: the start
// page, /return/ and the queue (a chat started), and with a case code the case page behind
// it. Error pages are scored when the server is the browser tests' app
// (tests.browser.asgi, which renders each handler at /test-errors/<status>/): Lighthouse
// will not navigate to a page answered with an error status, so they are snapshots.
//
// Lighthouse is not a dependency of the project: install it once outside the repository and
// point LIGHTHOUSE_PREFIX there; it drives Debian's Chromium, never a browser of its own.
//
//   npm install --prefix /tmp/lighthouse lighthouse@12.8.2
//   LIGHTHOUSE_PREFIX=/tmp/lighthouse node scripts/lighthouse-client.mjs \
//       http://127.0.0.1:8000 [--code ABCD-EFGH-JKMN] [--errors] sv ar ...
//
// Prints one line per page: score, language, URL, the ids of the audits that failed.
import {createRequire} from "node:module";
import {pathToFileURL} from "node:url";

const prefix = process.env.LIGHTHOUSE_PREFIX;
if (!prefix) throw new Error("set LIGHTHOUSE_PREFIX to the folder lighthouse is installed in");
const require = createRequire(`${prefix}/package.json`);
const load = async (name) => import(pathToFileURL(require.resolve(name)).href);
const {startFlow} = await load("lighthouse");
const puppeteer = (await load("puppeteer-core")).default;

const args = process.argv.slice(2);
const base = args.shift();
const option = (name) => {
  const at = args.indexOf(name);
  return at < 0 ? null : args.splice(at, name === "--errors" ? 1 : 2).slice(1)[0] ?? true;
};
const code = option("--code");
const errors = option("--errors");
const languages = args.length ? args : ["sv", "ar"];

const config = {
  extends: "lighthouse:default",
  settings: {
    onlyCategories: ["accessibility"],
    formFactor: "mobile",
    screenEmulation: {mobile: true, width: 360, height: 740, deviceScaleFactor: 2},
  },
};
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  headless: "new",
  args: ["--no-sandbox"],
});
let worst = 100;
for (const lang of languages) {
  // A fresh browser per language: nothing of the last one's session carries over.
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  // What the picker leaves: the language cookie for this browser session.
  await page.setCookie({name: "django_language", value: lang, url: base});
  const flow = await startFlow(page, {config});
  await flow.navigate(`${base}/`);
  await flow.navigate(`${base}/return/`);
  await page.goto(`${base}/`);
  await page.click("#start-form input[name=unit]");
  await page.type("#first-message", "Hej");
  await page.click("#start-form button[type=submit]");
  await page.waitForSelector("body[data-state=queued]");
  await flow.snapshot({stepName: "the queue"});
  if (code) {
    await page.goto(`${base}/return/`);
    await page.type("#case-code", code);
    await Promise.all([page.waitForNavigation(), page.click("main button[type=submit]")]);
    await flow.navigate(`${base}/return/case/`);
  }
  if (errors) {
    for (const status of [400, 403, 404, 500]) {
      await page.goto(`${base}/test-errors/${status}/`);
      await flow.snapshot({stepName: `error ${status}`});
    }
  }
  for (const step of (await flow.createFlowResult()).steps) {
    const score = Math.round(step.lhr.categories.accessibility.score * 100);
    worst = Math.min(worst, score);
    const failed = Object.values(step.lhr.audits)
      .filter((a) => a.score !== null && a.score < 1)
      .filter((a) => !["notApplicable", "informative", "manual"].includes(a.scoreDisplayMode))
      .map((a) => a.id);
    console.log(score, lang, step.name, step.lhr.finalDisplayedUrl, failed.join(" "));
  }
  await context.close();
}
await browser.close();
process.exitCode = worst === 100 ? 0 : 1;
