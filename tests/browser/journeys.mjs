// The shopper's journeys (issue 7) in Debian's Chromium. Run by tests/tests/storefront_browser.rs,
// which starts the stack, seeds the demo data and passes BASE_URL, SCREENSHOTS and FIXTURE (the
// products, category, coupon and typo the steps use). Every step prints what it did; the first
// failure stops the run with a non-zero exit and a screenshot of the page it failed on.
import { launch, totp } from "./browser.mjs";

const base = process.env.BASE_URL;
const shots = process.env.SCREENSHOTS;
const fixture = JSON.parse(process.env.FIXTURE);
const runId = Date.now().toString(36);

let current = null;

async function step(name, action) {
  const started = Date.now();
  await action();
  console.log(`  ok  ${name} (${Date.now() - started} ms)`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

function expectText(actual, expected, what) {
  if (!actual.includes(expected)) throw new Error(`${what}: expected "${expected}" in "${actual.slice(0, 300)}"`);
}

async function journey(browser, name, options, run) {
  console.log(`journey: ${name}`);
  const context = await browser.newContext({ baseURL: base, ...options });
  const page = await context.newPage();
  // A script error is a failure even when the page still works without the script.
  const scriptErrors = [];
  page.on("pageerror", (error) => scriptErrors.push(`${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`  console error at ${page.url()}: ${message.text()}`);
  });
  current = { page, name };
  await run(page);
  if (scriptErrors.length) throw new Error(`script errors: ${scriptErrors.join("; ")}`);
  await context.close();
}

const journeys = [
  ["register, search with a typo, filter, two vendors, coupon, pay, confirmation, history", {}, shopperJourney],
  ["browse and add with JavaScript off", { javaScriptEnabled: false }, noScriptJourney],
  ["sign in with two-factor authentication", {}, twoFactorJourney],
];

const browser = await launch();
let failed = false;
try {
  for (const [name, options, run] of journeys) {
    await journey(browser, name, options, run);
  }
} catch (error) {
  failed = true;
  console.error(`FAILED in "${current?.name}": ${error.stack ?? error}`);
  if (current?.page) {
    console.error(`  at ${current.page.url()}`);
    await shot(current.page, `failure-${current.name.split(" ")[0]}`).catch(() => {});
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

// --- the journeys --------------------------------------------------------------------------------

async function register(page, who) {
  await page.goto("/account/register");
  await page.getByLabel(/name/i).first().fill(who.name);
  await page.getByLabel(/email/i).fill(who.email);
  await page.getByLabel(/password/i).first().fill(who.password);
  await page.getByRole("button", { name: /create account|register|sign up/i }).click();
  await page.waitForLoadState();
  if (new URL(page.url()).pathname.startsWith("/account/register")) {
    throw new Error(`registration stayed on the form: ${await page.locator("main").innerText()}`);
  }
}

async function addToCart(page) {
  await page.getByRole("button", { name: /add to cart/i }).click();
  await page.getByText(/added to your cart/i).first().waitFor();
}

async function shopperJourney(page) {
  const who = { name: "Jo Journey", email: `jo-${runId}@example.test`, password: "journey passphrase 2026" };
  await step("register an account", async () => {
    await register(page, who);
  });

  await step("home page", async () => {
    await page.goto("/");
    await page.getByRole("heading", { level: 1 }).waitFor();
    await shot(page, "01-home");
  });

  await step("autocomplete suggests while typing", async () => {
    const box = page.getByLabel("Search products");
    await box.click();
    await box.pressSequentially(fixture.ceramics.title.slice(0, 5).toLowerCase(), { delay: 40 });
    await page.getByRole("option", { name: fixture.ceramics.title }).waitFor({ timeout: 10000 });
  });

  await step(`search with a typo ("${fixture.search.typo}")`, async () => {
    const box = page.getByLabel("Search products");
    await box.fill(fixture.search.typo);
    await box.press("Enter");
    await page.waitForURL(/\/search\?/);
    await page.getByRole("link", { name: fixture.ceramics.title }).first().waitFor();
    await shot(page, "02-search");
  });

  await step("filter the results (in stock only)", async () => {
    await page.getByLabel(/in stock/i).check();
    await page.getByRole("button", { name: /apply|filter/i }).first().click();
    await page.waitForURL(/in_stock/);
    await page.getByRole("link", { name: fixture.ceramics.title }).first().waitFor();
  });

  await step("product page, add from North Ceramics", async () => {
    await page.getByRole("link", { name: fixture.ceramics.title }).first().click();
    expectText(await page.getByRole("heading", { level: 1 }).innerText(), fixture.ceramics.title, "product heading");
    await shot(page, "03-product");
    await addToCart(page);
  });

  await step("add from Bright Textiles", async () => {
    await page.goto(fixture.textiles.path);
    await addToCart(page);
  });

  await step("cart shows both vendors; apply the coupon", async () => {
    await page.getByRole("link", { name: /^cart/i }).first().click();
    await page.waitForURL(/\/cart/);
    const main = page.locator("main");
    expectText(await main.innerText(), fixture.ceramics.vendor, "cart");
    expectText(await main.innerText(), fixture.textiles.vendor, "cart");
    await page.getByLabel("Coupon code").fill(fixture.coupon);
    await page.getByRole("button", { name: "Apply coupon" }).click();
    await page.getByText(fixture.coupon).first().waitFor();
    await page.getByText(/discount/i).first().waitFor();
    // Where to deliver decides tax and shipping, so the cart asks for it before checkout.
    await page.getByLabel(/^country/i).fill("PT");
    await page.getByLabel(/^postcode/i).fill("1200-195");
    await page.getByRole("button", { name: "Save destination" }).click();
    await page.getByText(/^tax/i).first().waitFor();
    await shot(page, "04-cart");
  });

  await step("checkout: address, shipping, card 4242, pay", async () => {
    await page.getByRole("link", { name: /checkout/i }).first().click();
    await page.waitForURL(/\/checkout/);
    for (const vendor of [fixture.ceramics.vendor, fixture.textiles.vendor]) {
      const group = page.getByRole("group", { name: `Shipping from ${vendor}` });
      await group.getByRole("radio").first().check();
      await page.locator("form", { has: group }).getByRole("button", { name: "Use this shipping" }).click();
      await expectChecked(page.getByRole("group", { name: `Shipping from ${vendor}` }).getByRole("radio").first());
    }
    await fillAddress(page);
    await shot(page, "05-checkout");
    await page.getByLabel(/card number/i).fill("4242 4242 4242 4242");
    await page.getByLabel(/expir/i).fill("12/34");
    await page.getByLabel(/cvc|security code/i).fill("123");
    await page.getByRole("button", { name: /^pay/i }).click();
    await page.waitForURL(/\/orders\/.+placed=1/);
  });

  await step("confirmation shows two vendor orders", async () => {
    await page.getByRole("heading", { name: /thank you/i }).waitFor();
    const main = await page.locator("main").innerText();
    expectText(main, fixture.ceramics.vendor, "confirmation");
    expectText(main, fixture.textiles.vendor, "confirmation");
    expectText(main, fixture.ceramics.title, "confirmation");
    expectText(main, fixture.textiles.title, "confirmation");
    // Everything in the cart was bought: the header no longer counts it.
    const cartLink = (await page.locator("[data-cart-link]").innerText()).trim();
    if (cartLink !== "Cart") throw new Error(`the header's cart link still says "${cartLink}"`);
    await shot(page, "06-confirmation");
  });

  await step("order history lists the order", async () => {
    const confirmation = new URL(page.url()).pathname;
    await page.getByRole("link", { name: /^orders/i }).first().click();
    await page.waitForURL(/\/orders$/);
    await page.locator(`a[href="${confirmation}"]`).first().waitFor();
    await shot(page, "07-orders");
  });
}

async function expectChecked(radio) {
  for (let tries = 0; tries < 50; tries++) {
    if (await radio.isChecked()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the shipping choice was not kept");
}

async function fillAddress(page) {
  const fill = async (label, value) => {
    const field = page.getByLabel(label).first();
    if (await field.count()) await field.fill(value);
  };
  await fill(/full name|^name/i, "Jo Journey");
  await fill(/street|address line|address/i, "Rua das Flores 12");
  await fill(/city/i, "Lisboa");
  await fill(/post(al)? ?code|zip/i, "1200-195");
  const country = page.getByLabel(/country/i).first();
  if (await country.count()) {
    const tag = await country.evaluate((element) => element.tagName);
    if (tag === "SELECT") await country.selectOption("PT");
    else await country.fill("PT");
  }
}

async function noScriptJourney(page) {
  await step("home → category (no JavaScript)", async () => {
    await page.goto("/");
    await page.getByRole("link", { name: fixture.category.name }).first().click();
    await page.waitForURL(new RegExp(`/c/${fixture.category.slug}`));
    await shot(page, "08-category-noscript");
  });
  await step("product page and add to cart (no JavaScript)", async () => {
    await page.goto(fixture.ceramics.path);
    await page.getByRole("button", { name: /add to cart/i }).click();
    await page.waitForURL(/added=1/);
    await page.getByText(/added to your cart/i).first().waitFor();
  });
  await step("the cart holds the line (no JavaScript)", async () => {
    await page.goto("/cart");
    expectText(await page.locator("main").innerText(), fixture.ceramics.title, "cart without JavaScript");
    await shot(page, "09-cart-noscript");
  });
}

async function twoFactorJourney(page) {
  const who = { name: "Tess Twofactor", email: `tess-${runId}@example.test`, password: "second factor passphrase" };
  let secret = "";
  await step("register and turn on two-factor authentication", async () => {
    await register(page, who);
    await page.goto("/account");
    await page.getByRole("button", { name: /two-factor|2fa|set up|enable/i }).first().click();
    secret = (await page.locator("input[name=secret]").inputValue()).trim();
    await page.getByLabel(/code/i).first().fill(await totp(secret));
    await page.getByRole("button", { name: /confirm|turn on|verify/i }).first().click();
    await page.getByText(/recovery codes/i).first().waitFor();
  });
  await step("sign out", async () => {
    await page.getByRole("link", { name: "Done" }).click();
    await page.getByRole("button", { name: /sign out|log out/i }).first().click();
    await page.waitForLoadState();
    await page.getByRole("link", { name: /sign in/i }).first().waitFor();
  });
  await step("sign in asks for the code, then lets the shopper in", async () => {
    await page.goto("/account/login");
    await page.getByLabel(/email/i).fill(who.email);
    await page.getByLabel(/password/i).fill(who.password);
    await page.getByRole("button", { name: /sign in|log in/i }).click();
    const code = page.getByLabel(/code/i).first();
    await code.waitFor();
    await shot(page, "10-two-factor");
    // A code is accepted once: the one that confirmed the set-up cannot sign in, so (like a
    // person) wait for the app's next code.
    await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 500));
    await code.fill(await totp(secret));
    await page.getByRole("button", { name: /verify|sign in|continue/i }).first().click();
    await page.waitForURL((url) => !url.pathname.startsWith("/account/login"));
    await page.getByRole("link", { name: /^account/i }).first().waitFor();
  });
}
