// The shop's hosted checkout in a real browser: a Kassa listening on a real port with the bank and
// wallet simulators beside it (notifications over HTTP), the page driven by playwright-core on
// Debian's chromium through each channel — online banking via the bank's own pages and back, a
// wallet's QR read off the screen with jsQR and paid on a second page, quick pay with a new account
// and then a saved one, the shop's wallet balance — and the failures a shopper sees.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { Acquirer } from '../../src/acquiring/acquirer.js'
import { openSchemeLink, type SchemeLink } from '../../src/acquiring/scheme-link/index.js'
import { updateChannelConfig } from '../../src/channels/directory.js'
import { startSchemeSimulator, testCards, type SchemeSimulator } from '../../sim/scheme/index.js'
import { currencyCodes, currency } from '../../src/domain/currency.js'
import { browserUnavailable, launchBrowser, phoneViewport, readQrFromPage } from '../helpers/browser.js'
import { openCheckoutWorld, type CheckoutWorld } from '../helpers/counterparts.js'
import { assertLedgerSound, seedMerchant, seedShopper, testActor, walletAvailable } from '../helpers/factories.js'
import { until } from '../helpers/until.js'

type Json = Record<string, any>

const unavailable = browserUnavailable()
const desktopViewport = { width: 1280, height: 860 } as const
/** KASSA_BROWSER_SCREENSHOTS=<folder> keeps PNGs of the page, to look at the layout. */
const screenshotFolder = process.env['KASSA_BROWSER_SCREENSHOTS']

const alice = { username: 'alice', password: 'alice123', account: '6222021000000000017', holder: 'Alice Zhang', phone: '13800000001' }

describe('checkout page: the amounts it formats', () => {
  it('knows the same minor-unit exponents as src/domain/currency.ts', async () => {
    const file = join(fileURLToPath(new URL('../../../web/checkout/', import.meta.url)), 'currencies.js')
    const page = (await import(pathToFileURL(file).href)) as { exponentOf(code: string): number }
    for (const code of currencyCodes) assert.equal(page.exponentOf(code), currency(code).exponent, code)
  })
})

// KASSA_REQUIRE_BROWSER=1 (for CI, like KASSA_REQUIRE_PG) makes a missing chromium a failure instead of a skip.
if (unavailable !== undefined && process.env['KASSA_REQUIRE_BROWSER'] === '1') {
  it('chromium is installed (KASSA_REQUIRE_BROWSER=1)', () => assert.fail(unavailable))
}

describe('browser: the hosted checkout page', { skip: unavailable ?? false }, () => {
  let browser: Browser
  let world: CheckoutWorld
  let scheme: SchemeSimulator
  let link: SchemeLink
  let shop: Awaited<ReturnType<typeof seedMerchant>>
  let order = 0
  const contexts: BrowserContext[] = []
  /** Uncaught exceptions and content-policy refusals on any page: each test ends with none. */
  const pageProblems: string[] = []

  before(async () => {
    browser = await launchBrowser()
    world = await openCheckoutWorld('sqlite')
    // Cards through Kassa's acquirer and the scheme simulator, as `npm start` runs them.
    scheme = await startSchemeSimulator({ port: 0, clock: world.kassa.clock, seed: 3 })
    link = openSchemeLink({ host: '127.0.0.1', port: scheme.port, clock: world.kassa.clock, acquirerId: '12345678', echoIntervalMs: 0 })
    assert.equal(await link.waitUntilUp(3_000), true)
    await world.kassa.enableCards(new Acquirer({ store: world.kassa.store, clock: world.kassa.clock, link, masterKey: world.kassa.masterKey, timeoutMs: 2_000, reversalAttemptsMax: 3, acquirerId: '12345678' }))
    shop = await seedMerchant(world.kassa, 'Kassa Tea House', 60)
  })
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined)
    await browser?.close()
    await world?.dispose()
    await link?.close()
    await scheme?.close()
  })

  const bank = (id: string) => world.bank(id)
  const wallet = (id: string) => world.wallet(id)

  /** A payment for a shopper, created through the merchant API as a shop would, with its checkout link. */
  async function newPayment(shopper: string | undefined, amount = 12_900): Promise<{ id: string; checkout_url: string }> {
    order += 1
    const body: Json = { amount, currency: 'CNY', order_reference: `T-${1000 + order}`, description: `Oolong tea, ${order} tin${order === 1 ? '' : 's'}` }
    if (shopper !== undefined) body['shopper'] = shopper
    const created = await shop.api.post('/v1/payments', body, { 'idempotency-key': `checkout-page-${order}-${Math.random()}` })
    assert.equal(created.statusCode, 200, created.body)
    const payment = created.json() as Json
    assert.equal(payment.status, 'requires_payment_method')
    assert.match(payment.checkout_url, new RegExp(`^${world.url}/pay/${payment.id}\\?t=`))
    return { id: payment.id, checkout_url: payment.checkout_url }
  }

  async function paymentOf(id: string): Promise<Json> {
    const response = await shop.api.get(`/v1/payments/${id}`)
    assert.equal(response.statusCode, 200, response.body)
    return response.json()
  }

  async function newPage(viewport: { width: number; height: number } = desktopViewport): Promise<Page> {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1, isMobile: viewport.width <= 480, hasTouch: viewport.width <= 480 })
    contexts.push(context)
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    page.on('pageerror', (error) => pageProblems.push(`${page.url()}: ${error.message}`))
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(`${page.url()}: ${message.text()}`)
    })
    return page
  }

  /** Opens a checkout link and waits for the ways to pay. */
  async function openCheckout(url: string, viewport?: { width: number; height: number }): Promise<Page> {
    const page = await newPage(viewport)
    await page.goto(url)
    await page.waitForSelector('[data-testid=methods-view]', { state: 'visible' })
    return page
  }

  async function text(page: Page, selector: string): Promise<string> {
    return ((await page.textContent(selector)) ?? '').trim()
  }

  async function shownChannels(page: Page): Promise<string[]> {
    return page.locator('[data-testid=method]').evaluateAll((buttons) => buttons.map((button) => (button as HTMLElement).dataset['channel'] ?? ''))
  }

  async function waitForResult(page: Page, status: string, timeout = 15_000): Promise<void> {
    await page.waitForSelector(`[data-testid=result][data-status=${status}]`, { state: 'visible', timeout })
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: `/tmp/checkout-${name}.png`, fullPage: true })
    if (screenshotFolder !== undefined) await page.screenshot({ path: join(screenshotFolder, `checkout-${name}.png`), fullPage: true })
  }

  function assertNoPageProblems(): void {
    assert.deepEqual(pageProblems.splice(0), [], 'no script errors or content-policy refusals on the pages')
  }

  it('online banking: to the bank’s pages as alice and back, Paid; the bank account pays the amount', async () => {
    const shopper = await seedShopper(world.kassa, 0n)
    const payment = await newPayment(shopper, 12_900)
    const icbc = bank('icbc-sim')
    const aliceBefore = icbc.account(alice.username)?.balance_minor ?? 0n

    const page = await openCheckout(payment.checkout_url)
    assert.equal(await text(page, '[data-testid=merchant-name]'), 'Kassa Tea House')
    assert.equal(await text(page, '[data-testid=amount]'), 'CNY 129.00')
    assert.equal(await text(page, '[data-testid=order-reference]'), `T-${1000 + order}`)
    assert.match(await text(page, '[data-testid=order-description]'), /^Oolong tea/)
    // The methods in the order Kassa lists them (quick pay's banks gather under one "add an account" entry).
    const listed = (await (await shop.api.get(`/v1/payments/${payment.id}/payment_methods`)).json()) as Json
    const offered = (listed.channels as Json[]).filter((channel) => channel.kind !== 'cod' && channel.kind !== 'quickpay').map((channel) => channel.id)
    assert.deepEqual(await shownChannels(page), offered)
    assert.ok(offered.includes('wallet_balance') && offered.includes('netbank.icbc-sim') && offered.includes('wallet.alipay-like'), offered.join())
    assert.equal(await text(page, '[data-testid=wallet-balance]'), 'Available CNY 0.00')
    assert.equal(await page.isVisible('[data-testid=add-quickpay]'), true)
    assert.equal(await page.isVisible('[data-testid=alert]'), false)
    await screenshot(page, 'desktop')

    await page.click('[data-testid=method][data-channel="netbank.icbc-sim"]')
    await page.waitForURL(`${icbc.url}/pay/**`)
    await page.fill('#username', alice.username)
    await page.fill('#password', alice.password)
    await page.click('#login')
    await page.waitForSelector('#confirm-form')
    await Promise.all([page.waitForURL(`${world.url}/pay/${payment.id}?t=*`), page.locator('#confirm-form').evaluate((form) => (form as HTMLFormElement).requestSubmit())])

    await waitForResult(page, 'succeeded')
    assert.equal(await text(page, '[data-testid=result-title]'), 'Paid')
    assert.equal(await text(page, '[data-testid=result-amount]'), 'CNY 129.00')
    assert.equal(await text(page, '[data-testid=result-payment]'), payment.id)
    const paid = await paymentOf(payment.id)
    assert.equal(paid.status, 'succeeded')
    assert.equal(paid.channel, 'netbank.icbc-sim')
    assert.equal(icbc.account(alice.username)?.balance_minor, aliceBefore - 12_900n)
    await assertLedgerSound(world.kassa)
    assertNoPageProblems()
  })

  it('online banking refused (bob has too little): the page says why and offers the ways to pay again', async () => {
    const payment = await newPayment(await seedShopper(world.kassa, 0n), 25_000)
    const icbc = bank('icbc-sim')
    const page = await openCheckout(payment.checkout_url)
    await page.click('[data-testid=method][data-channel="netbank.icbc-sim"]')
    await page.waitForURL(`${icbc.url}/pay/**`)
    await page.fill('#username', 'bob')
    await page.fill('#password', 'bob123')
    await page.click('#login')
    await page.waitForSelector('#confirm-form')
    await Promise.all([page.waitForURL(`${world.url}/pay/${payment.id}?t=*`), page.click('#confirm')])

    await page.waitForSelector('[data-testid=payment-error]', { state: 'visible' })
    assert.match(await text(page, '[data-testid=payment-error]'), /did not go through.*declined/i)
    assert.equal(await page.getAttribute('[data-testid=payment-error]', 'role'), 'alert')
    assert.ok((await shownChannels(page)).includes('netbank.icbc-sim'), 'the methods are offered again')
    const failed = await paymentOf(payment.id)
    assert.equal(failed.status, 'requires_payment_method')
    assert.match(failed.last_payment_error?.code ?? '', /^counterpart_/)

    // Choosing again works: alice pays the same payment.
    await page.click('[data-testid=method][data-channel="netbank.icbc-sim"]')
    await page.waitForURL(`${icbc.url}/pay/**`)
    await page.fill('#username', alice.username)
    await page.fill('#password', alice.password)
    await page.click('#login')
    await Promise.all([page.waitForURL(`${world.url}/pay/${payment.id}?t=*`), page.click('#confirm')])
    await waitForResult(page, 'succeeded')
    assert.equal((await paymentOf(payment.id)).status, 'succeeded')
    await assertLedgerSound(world.kassa)
    assertNoPageProblems()
  })

  it('a wallet: its QR code on the page reads as the wallet’s link; paid on another page, the checkout turns Paid by itself', async () => {
    const payment = await newPayment(await seedShopper(world.kassa, 0n), 8_800)
    const alipay = wallet('alipay-like')
    const wangBefore = alipay.user('wang')?.balance_minor ?? 0n
    const page = await openCheckout(payment.checkout_url)
    await page.click('[data-testid=method][data-channel="wallet.alipay-like"]')
    await page.waitForSelector('[data-testid=qr-image]', { state: 'visible' })

    const waiting = await paymentOf(payment.id)
    assert.equal(waiting.status, 'processing')
    assert.equal(waiting.next_action?.type, 'display_qr_code')
    const scanned = await readQrFromPage(page, '[data-testid=qr-image]')
    assert.equal(scanned, waiting.next_action.qr_code)
    assert.match(scanned, new RegExp(`^${alipay.url}/`))
    assert.equal(await page.getAttribute('[data-testid=open-wallet]', 'href'), waiting.next_action.url)
    assert.match(await text(page, '[data-testid=qr-waiting]'), /Waiting/)

    // The shopper's phone opens the scanned link: the wallet's own login and confirm pages.
    const phone = await newPage(phoneViewport)
    await phone.goto(scanned)
    await phone.fill('#username', 'wang')
    await phone.fill('#password', 'wang123')
    await phone.click('#login')
    await phone.waitForSelector('#confirm-form')
    await phone.click('#confirm')

    await waitForResult(page, 'succeeded')
    assert.equal(await text(page, '[data-testid=result-title]'), 'Paid')
    assert.equal(await text(page, '[data-testid=result-amount]'), 'CNY 88.00')
    assert.equal((await paymentOf(payment.id)).status, 'succeeded')
    assert.equal(alipay.user('wang')?.balance_minor, wangBefore - 8_800n)
    await assertLedgerSound(world.kassa)
    assertNoPageProblems()
  })

  it('quick pay on a phone: binds a new account with an SMS code and pays; the next payment pays the saved account in one step, after a wrong code', async () => {
    const icbc = bank('icbc-sim')
    const shopper = await seedShopper(world.kassa, 0n)
    const aliceBefore = icbc.account(alice.username)?.balance_minor ?? 0n
    const first = await newPayment(shopper, 5_000)
    const page = await openCheckout(first.checkout_url, phoneViewport)
    await screenshot(page, 'phone')
    assert.equal(await page.isVisible('[data-testid=saved-method]'), false)
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(width <= phoneViewport.width, `the page fits a phone's width (${width} px)`)
    const button = await page.locator('[data-testid=method]').first().boundingBox()
    assert.ok(button !== null && button.height >= 48 && button.width >= phoneViewport.width - 60, `a method is a big touch target (${JSON.stringify(button)})`)

    await page.click('[data-testid=add-quickpay]')
    await page.waitForSelector('[data-testid=bind-view]', { state: 'visible' })
    await page.selectOption('[data-testid=bind-bank]', 'quickpay.icbc-sim')
    await page.fill('[data-testid=bind-account]', alice.account)
    await page.fill('[data-testid=bind-holder]', alice.holder)
    await page.fill('[data-testid=bind-phone]', alice.phone)
    await page.click('[data-testid=bind-submit]')
    await page.waitForSelector('[data-testid=sms-view][data-purpose=binding]', { state: 'visible' })
    assert.match(await text(page, '[data-testid=sms-sent]'), /0001/)
    const bindingCode = icbc.smsCodeFor(alice.phone)
    assert.ok(bindingCode !== undefined)
    await page.fill('[data-testid=sms-code]', bindingCode)
    await page.click('[data-testid=sms-submit]')
    // Saved; the payment on it asks for a new code.
    await page.waitForSelector('[data-testid=sms-view][data-purpose=payment]', { state: 'visible' })
    const paymentCode = icbc.smsCodeFor(alice.phone)
    assert.ok(paymentCode !== undefined)
    await page.fill('[data-testid=sms-code]', paymentCode)
    await page.click('[data-testid=sms-submit]')
    await waitForResult(page, 'succeeded')
    assert.equal(await text(page, '[data-testid=result-title]'), 'Paid')
    assert.equal((await paymentOf(first.id)).channel, 'quickpay.icbc-sim')
    assert.equal(icbc.account(alice.username)?.balance_minor, aliceBefore - 5_000n)

    // The next payment: the saved account, one step, a fresh code; a wrong one first.
    const second = await newPayment(shopper, 7_000)
    const again = await openCheckout(second.checkout_url, phoneViewport)
    const saved = again.locator('[data-testid=saved-method]')
    assert.equal(await saved.count(), 1)
    assert.match(await saved.innerText(), /0017/)
    assert.match(await saved.innerText(), /Alice Zhang/)
    await again.click('[data-testid=pay-saved]')
    await again.waitForSelector('[data-testid=sms-view][data-purpose=payment]', { state: 'visible' })
    const code = await until('the payment SMS code', () => {
      const sent = icbc.smsCodeFor(alice.phone)
      return sent !== undefined && sent !== paymentCode ? sent : undefined
    })
    const wrong = code.slice(0, -1) + String((Number(code.slice(-1)) + 1) % 10)
    await again.fill('[data-testid=sms-code]', wrong)
    await again.click('[data-testid=sms-submit]')
    await again.waitForSelector('[data-testid=sms-error]', { state: 'visible' })
    assert.match(await text(again, '[data-testid=sms-error]'), /did not work/i)
    assert.equal(await again.isVisible('[data-testid=sms-view]'), true, 'the shopper can try again')
    assert.equal((await paymentOf(second.id)).status, 'processing')
    await again.fill('[data-testid=sms-code]', code)
    await again.click('[data-testid=sms-submit]')
    await waitForResult(again, 'succeeded')
    assert.equal((await paymentOf(second.id)).status, 'succeeded')
    assert.equal(icbc.account(alice.username)?.balance_minor, aliceBefore - 12_000n)

    // Removing the saved account: gone from the page and from the shopper's methods.
    const third = await newPayment(shopper, 1_000)
    const removing = await openCheckout(third.checkout_url, phoneViewport)
    await removing.click('[data-testid=remove-saved]')
    await removing.waitForSelector('[data-testid=saved-method]', { state: 'detached' })
    const methods = (await (await shop.api.get(`/v1/payments/${third.id}/payment_methods`)).json()) as Json
    assert.deepEqual(methods.saved_methods, [])
    await assertLedgerSound(world.kassa)
    assertNoPageProblems()
  })

  it('the shop wallet balance: enough pays at once; too little says so and offers the rest', async () => {
    const rich = await seedShopper(world.kassa, 50_000n)
    const paying = await newPayment(rich, 12_900)
    const page = await openCheckout(paying.checkout_url)
    assert.equal(await text(page, '[data-testid=wallet-balance]'), 'Available CNY 500.00')
    await page.click('[data-testid=method][data-channel=wallet_balance]')
    await waitForResult(page, 'succeeded')
    assert.equal(await text(page, '[data-testid=result-title]'), 'Paid')
    assert.equal((await paymentOf(paying.id)).status, 'succeeded')
    assert.equal(await walletAvailable(world.kassa, rich), 50_000n - 12_900n)

    const poor = await seedShopper(world.kassa, 1_000n)
    const short = await newPayment(poor, 12_900)
    const refused = await openCheckout(short.checkout_url)
    assert.equal(await refused.getAttribute('[data-testid=wallet-balance]', 'data-short'), 'true')
    await refused.click('[data-testid=method][data-channel=wallet_balance]')
    await refused.waitForSelector('[data-testid=payment-error]', { state: 'visible' })
    assert.match(await text(refused, '[data-testid=payment-error]'), /balance is too low/i)
    assert.ok((await shownChannels(refused)).includes('netbank.icbc-sim'), 'the other ways to pay are still offered')
    const declined = await paymentOf(short.id)
    assert.equal(declined.status, 'requires_payment_method')
    assert.equal(declined.last_payment_error?.code, 'insufficient_funds')
    assert.equal(await walletAvailable(world.kassa, poor), 1_000n)
    await assertLedgerSound(world.kassa)
    assertNoPageProblems()
  })

  it('a quick-pay channel switched off: the saved account is not offered, a notice says why, the other channels are', async () => {
    const icbc = bank('icbc-sim')
    const shopper = await seedShopper(world.kassa, 0n)
    // The shopper has a saved ICBC quick-pay account (bound through the checkout's own API).
    const binding = await newPayment(shopper, 1_000)
    const apiUrl = (path: string) => binding.checkout_url.replace(`/pay/${binding.id}?`, `/pay/${binding.id}/api${path}?`)
    const post = async (path: string, body: Json): Promise<Json> => {
      const response = await fetch(apiUrl(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const json = (await response.json()) as Json
      assert.equal(response.status, 200, JSON.stringify(json))
      return json
    }
    const started = await post('/quickpay/bindings', { channel: 'quickpay.icbc-sim', account_no: alice.account, holder_name: alice.holder, phone: alice.phone })
    const savedMethod = await post('/quickpay/bindings/confirm', { channel: 'quickpay.icbc-sim', binding_request_id: started.binding_request_id, sms_code: icbc.smsCodeFor(alice.phone) })
    assert.match(savedMethod.id, /^pm_/)

    await updateChannelConfig(world.kassa.store, world.kassa.clock, testActor, 'quickpay.icbc-sim', { state: 'draining' })
    try {
      const payment = await newPayment(shopper, 3_000)
      const page = await openCheckout(payment.checkout_url)
      assert.equal(await page.locator('[data-testid=saved-method]').count(), 0, 'the saved account is not offered')
      assert.equal(await page.isVisible('[data-testid=saved-methods]'), false)
      const notice = page.locator(`[data-testid=notice][data-saved-method="${savedMethod.id}"]`)
      assert.equal(await notice.isVisible(), true)
      assert.match(await notice.innerText(), /not available at the moment.*kept/i)
      const channels = await shownChannels(page)
      assert.ok(channels.includes('netbank.icbc-sim') && channels.includes('wallet.alipay-like') && channels.includes('wallet_balance'), channels.join())
      assert.ok(!channels.some((channel) => channel.startsWith('quickpay.icbc-sim')))
      if (await page.isVisible('[data-testid=add-quickpay]')) {
        await page.click('[data-testid=add-quickpay]')
        const banks = await page.locator('[data-testid=bind-bank] option').evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value))
        assert.ok(!banks.includes('quickpay.icbc-sim'), `a new binding is not offered on the drained bank (${banks.join()})`)
        await page.click('[data-testid=bind-back]')
        await page.waitForSelector('[data-testid=methods-view]', { state: 'visible' })
      }
      // It is kept, not deleted: back on once the channel returns.
      await updateChannelConfig(world.kassa.store, world.kassa.clock, testActor, 'quickpay.icbc-sim', { state: 'enabled' })
      await page.reload()
      await page.waitForSelector(`[data-testid=saved-method][data-saved-method="${savedMethod.id}"]`, { state: 'visible' })
      assert.equal(await page.locator('[data-testid=notice]').count(), 0)
    } finally {
      await updateChannelConfig(world.kassa.store, world.kassa.clock, testActor, 'quickpay.icbc-sim', { state: 'enabled' })
    }
    assertNoPageProblems()
  })

  it('a card typed on the page: a decline says why and offers the ways again; the right card pays, and only the vault holds its number', async () => {
    const payment = await newPayment(await seedShopper(world.kassa, 0n), 8_800)
    const page = await openCheckout(payment.checkout_url, phoneViewport)
    assert.ok((await shownChannels(page)).includes('card'))
    await page.click('[data-testid=method][data-channel=card]')
    await page.waitForSelector('[data-testid=card-view]', { state: 'visible' })
    assert.equal(await text(page, '[data-testid=card-submit]'), 'Pay CNY 88.00')

    await page.fill('[data-testid=card-number]', '6220 0100 0000 0019')
    await page.fill('[data-testid=card-expiry]', '12/30')
    await page.click('[data-testid=card-submit]')
    await page.waitForSelector('[data-testid=card-error]', { state: 'visible' })
    assert.match(await text(page, '[data-testid=card-error]'), /not valid/i, 'a mistyped number (Luhn) is refused before anything is charged')

    await page.fill('[data-testid=card-number]', testCards.insufficient_funds.pan)
    await page.fill('[data-testid=card-expiry]', '13/30')
    await page.click('[data-testid=card-submit]')
    assert.match(await text(page, '[data-testid=card-error]'), /expiry/i)
    await page.fill('[data-testid=card-expiry]', '12/30')
    await page.click('[data-testid=card-submit]')
    await page.waitForSelector('[data-testid=payment-error]', { state: 'visible' })
    assert.ok((await shownChannels(page)).includes('card'), 'declined: the ways to pay again')
    assert.equal((await paymentOf(payment.id)).status, 'requires_payment_method')

    await page.click('[data-testid=method][data-channel=card]')
    await page.fill('[data-testid=card-number]', testCards.approve.pan.replace(/(\d{4})(?=\d)/g, '$1 '))
    await page.fill('[data-testid=card-expiry]', '12/30')
    await page.fill('[data-testid=card-cvc]', '123')
    await page.click('[data-testid=card-submit]')
    await waitForResult(page, 'succeeded')
    assert.equal(await text(page, '[data-testid=result-amount]'), 'CNY 88.00')
    const paid = await paymentOf(payment.id)
    assert.equal(paid.status, 'succeeded')
    assert.equal(paid.channel, 'card')
    assert.equal(paid.amount_received, 8_800)

    const rows = JSON.stringify(await world.kassa.store.db.selectFrom('vault_cards').selectAll().execute(), (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))
    assert.ok(!rows.includes(testCards.approve.pan), 'the card number is sealed in the vault')
    await assertLedgerSound(world.kassa)
    assertNoPageProblems()
  })

  it('a link with a changed token, or none, shows a clear error and nothing to pay', async () => {
    const payment = await newPayment(await seedShopper(world.kassa, 0n))
    const url = new URL(payment.checkout_url)
    const token = url.searchParams.get('t') ?? ''
    url.searchParams.set('t', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)
    const page = await newPage(phoneViewport)
    await page.goto(url.toString())
    await page.waitForSelector('[data-testid=fatal]', { state: 'visible' })
    assert.match(await text(page, '[data-testid=fatal-title]'), /link cannot be opened/i)
    assert.match(await text(page, '[data-testid=fatal-message]'), /not valid for this payment/i)
    assert.equal(await page.getAttribute('[data-testid=fatal-message]', 'role'), 'alert')
    assert.equal(await page.isVisible('[data-testid=methods-view]'), false)
    assert.equal(await page.isVisible('[data-testid=summary]'), false, 'nothing about the payment is shown')
    assert.equal(await page.isVisible('[data-testid=fatal-retry]'), false)

    await page.goto(`${world.url}/pay/${payment.id}`)
    await page.waitForSelector('[data-testid=fatal]', { state: 'visible' })
    assert.match(await text(page, '[data-testid=fatal-message]'), /missing/i)
    assert.equal((await paymentOf(payment.id)).status, 'requires_payment_method')
    assertNoPageProblems()
  })
})
