/**
 * One simulated wallet provider over HTTP (one server per provider): its own API and signature
 * scheme (`./alipay-like.ts`, `./wechat-like.ts`), the payer pages a shopper reaches by "scanning"
 * the QR code, and signed asynchronous notifications with the same fault knobs as the bank. Users,
 * orders and refunds live in memory: a restart starts empty.
 *
 * @example
 * const wallet = await startWalletSimulator({ provider: 'wechat-like', seed: 7 })
 * wallet.walletPublicKeyPem                 // verify its answers and notifications with this
 * wallet.demoMerchant?.private_key_pem      // sign Kassa's requests with this (demo only)
 * await wallet.close()
 */
import type { FastifyReply } from 'fastify'
import { assert } from '../../src/domain/assert.js'
import { systemClock, type Clock } from '../../src/domain/clock.js'
import type { CurrencyCode } from '../../src/domain/currency.js'
import { seededRandom } from '../scheme/random.js'
import { OrderBook, type Order, type PayOutcome, type Refund } from '../common/book.js'
import { parseFormParams } from '../common/canonical.js'
import { FaultBook, type FaultRule } from '../common/faults.js'
import { buildSimApp, listen, rawBodyOf } from '../common/http.js'
import { BoundedLog } from '../common/log.js'
import { Notifier, type DeliveryRecord, type NotifierOptions } from '../common/notifier.js'
import { LoginAttempts, PageSessions } from '../common/sessions.js'
import { Timers } from '../common/timers.js'
import { registerAlipayLike } from './alipay-like.js'
import type { ProviderShell, WalletContext, WalletLogEntry } from './context.js'
import { walletConfirmPage, walletLoginPage, walletMessagePage, type UserRow } from './pages.js'
import { generateWechatLikeMerchantKeys, wechatLikeSerialNo, type WechatLikeKeys } from './protocol.js'
import { alipayLikeDemoMerchant, walletProviders, walletTestUsers, wechatLikeDemoMerchantIds, type WalletMerchant, type WalletProvider, type WalletProviderId, type WalletUser } from './users.js'
import { registerWechatLike } from './wechat-like.js'

export type WalletSimulatorOptions = {
  /** Which provider. Default `alipay-like`. */
  readonly provider?: WalletProviderId
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /** Defaults to 127.0.0.1. */
  readonly host?: string
  /** Dates orders, expiries and (wechat-like) signed timestamps. Defaults to the system clock. */
  readonly clock?: Clock
  /** Seeds fault ratios. Default 1. */
  readonly seed?: number
  readonly faults?: readonly FaultRule[]
  /** Where notifications go when neither the order nor its merchant names a URL. */
  readonly notifyUrl?: string
  /**
   * The merchants (Kassa): with `key` for alipay-like, with `public_key_pem` (and `app_id`) for
   * wechat-like. Defaults to a demo merchant (for wechat-like, with a key pair generated at start,
   * whose private key `demoMerchant` gives back).
   */
  readonly merchants?: readonly WalletMerchant[]
  /** The wallet users. Defaults to `walletTestUsers(provider)`. */
  readonly users?: readonly WalletUser[]
  readonly notifications?: NotifierOptions
  /** An unpaid order closes itself this long after creation. Default 2 hours. */
  readonly orderTtlMs?: number
  /** Orders kept at once. Default 100,000. */
  readonly ordersMax?: number
  /** Wrong logins allowed per order on the payer page. Default 5. */
  readonly loginAttemptsMax?: number
  /** wechat-like: how far a signed timestamp may be from the clock. Default 5 minutes. */
  readonly timestampSkewMsMax?: number
  /** wechat-like: the wallet's own key pair. Default: generated at start. */
  readonly walletKeys?: WechatLikeKeys
  readonly log?: (entry: WalletLogEntry) => void
}

export type WalletUserView = { readonly username: string; readonly display_name: string; readonly payer_id: string; readonly currency: CurrencyCode; readonly balance_minor: bigint; readonly blocked: boolean }

export type WalletSimulator = {
  readonly url: string
  readonly provider: WalletProvider
  readonly merchants: readonly WalletMerchant[]
  /** wechat-like: the wallet's public key (SPKI PEM) that verifies its answers and notifications. */
  readonly walletPublicKeyPem: string | undefined
  readonly walletSerialNo: string | undefined
  /** wechat-like with no `merchants` given: the demo merchant, its private key included (Kassa's side). */
  readonly demoMerchant: (WalletMerchant & { readonly private_key_pem: string; readonly serial_no: string }) | undefined
  user(username: string): WalletUserView | undefined
  users(): WalletUserView[]
  merchantBalance(merchantId: string, currency?: CurrencyCode): bigint
  /** An order by the merchant's number (`out_trade_no`). */
  order(merchantId: string, outTradeNo: string): Order | undefined
  orders(): Order[]
  refunds(): Refund[]
  /** Pays an order as the payer page's confirm does (no login), for tests that skip the page. */
  pay(tradeNo: string, username: string): PayOutcome['outcome'] | 'order_unknown'
  setBlocked(username: string, blocked: boolean): void
  setFaults(rules: readonly FaultRule[]): void
  notifications(): readonly DeliveryRecord[]
  notificationsSettled(timeoutMs?: number): Promise<void>
  logs(): readonly WalletLogEntry[]
  /** Users' and merchants' money together: it never changes. */
  totalMinor(currency?: CurrencyCode): bigint
  close(): Promise<void>
  /** wechat-like: sign with a new platform key from now on (see ProviderShell.rotateKey). */
  rotateKey(options: { readonly crossSigned: boolean }): Promise<{ readonly serial_no: string }>
}

/** Starts one wallet provider and resolves once it listens. */
export async function startWalletSimulator(options: WalletSimulatorOptions = {}): Promise<WalletSimulator> {
  const provider: WalletProvider = walletProviders[options.provider ?? 'alipay-like']
  const clock = options.clock ?? systemClock
  const seed = options.seed ?? 1
  const users = new Map((options.users ?? walletTestUsers(provider)).map((user) => [user.username, user]))
  const log = new BoundedLog<WalletLogEntry>(options.log)
  const timers = new Timers()
  const faults = new FaultBook(options.faults ?? [], seededRandom(seed ^ 0x5eed))

  let walletKeys: WechatLikeKeys | undefined
  let demoMerchant: WalletSimulator['demoMerchant']
  let merchantList: readonly WalletMerchant[]
  if (provider.id === 'wechat-like') {
    walletKeys = options.walletKeys ?? (await generateWechatLikeMerchantKeys())
    if (options.merchants === undefined) {
      const keys = await generateWechatLikeMerchantKeys()
      demoMerchant = { ...wechatLikeDemoMerchantIds, public_key_pem: keys.public_key_pem, private_key_pem: keys.private_key_pem, serial_no: keys.serial_no }
      merchantList = [{ merchant_id: demoMerchant.merchant_id, app_id: demoMerchant.app_id, public_key_pem: demoMerchant.public_key_pem }]
    } else merchantList = options.merchants
    for (const merchant of merchantList) assert(merchant.public_key_pem !== undefined && merchant.app_id !== undefined, `wechat-like merchant ${merchant.merchant_id} needs public_key_pem and app_id`)
  } else {
    merchantList = options.merchants ?? [alipayLikeDemoMerchant]
    for (const merchant of merchantList) assert(merchant.key !== undefined && merchant.key.length > 0, `alipay-like merchant ${merchant.merchant_id} needs a key`)
  }
  const merchants = new Map(merchantList.map((merchant) => [merchant.merchant_id, merchant]))

  let shell: ProviderShell | undefined
  const notifier = new Notifier(options.notifications ?? {}, {
    clock,
    timers,
    isSuccess: (status, answer) => shell?.isAcknowledgement(status, answer) ?? false,
    log: (entry) => log.write(entry),
  })
  const book = new OrderBook({
    clock,
    accounts: [...users.values()].map((user) => ({ id: user.username, currency: user.currency, balance_minor: user.balance_minor, blocked: user.blocked })),
    orderTtlMs: options.orderTtlMs ?? 2 * 3_600_000,
    ordersMax: options.ordersMax ?? 100_000,
    refundsMax: options.ordersMax ?? 100_000,
    onTransition: ({ order, from, to }) => {
      log.write({ event: 'order_status', order_no: order.order_no, trade_no: order.provider_order_id, from, to })
      if (to === 'waiting' || shell === undefined) return
      const url = context.notifyUrlOf(order)
      if (url === undefined) return
      const built = shell.notification(order, to, url)
      const fault = faults.notification(order.order_no, to)
      if (fault !== undefined) log.write({ event: 'fault', action: fault.action, order_no: order.order_no })
      notifier.dispatch(built.genuine, fault, fault?.action === 'notify_forge' ? built.forge(fault.forgery) : undefined)
    },
  })

  const serials = { order: 1, refund: 1, notification: 1, forgery: 1 }
  let baseUrl = ''
  const context: WalletContext = {
    provider,
    clock,
    book,
    faults,
    timers,
    log,
    merchants,
    users,
    baseUrl: () => baseUrl,
    serial: (kind) => serials[kind]++,
    notifyUrlOf: (order) => order.notify_url ?? merchants.get(order.merchant_id)?.notify_url ?? options.notifyUrl,
  }

  const app = buildSimApp()
  shell = provider.id === 'wechat-like' && walletKeys !== undefined ? registerWechatLike(app, context, walletKeys, { ...(options.timestampSkewMsMax === undefined ? {} : { timestampSkewMsMax: options.timestampSkewMsMax }) }) : registerAlipayLike(app, context)
  const providerShell = shell

  // ---- the payer pages -------------------------------------------------------------------------

  const sessions = new PageSessions(clock)
  const logins = new LoginAttempts(options.loginAttemptsMax ?? 5)

  function userRow(user: WalletUser): UserRow {
    const account = book.account(user.username)
    return { username: user.username, password: user.password, display_name: user.display_name, balance_minor: account?.balance_minor ?? 0n, currency: user.currency, blocked: account?.blocked ?? user.blocked, note: user.note }
  }

  function html(reply: FastifyReply, status: number, page: string): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page)
  }

  function unpayablePage(reply: FastifyReply, order: Order | undefined): FastifyReply | undefined {
    if (order === undefined) return html(reply, 404, walletMessagePage(provider, 'Unknown payment', 'This code is not valid.'))
    if (order.status === 'paid') return html(reply, 409, walletMessagePage(provider, 'Already paid', 'This order has been paid.'))
    if (!book.payable(order)) return html(reply, 409, walletMessagePage(provider, 'Order closed', order.closed_by === 'expiry' ? 'The order expired before it was paid.' : 'The merchant closed this order.'))
    return undefined
  }

  app.get<{ Params: { id: string } }>('/qr/:id', (request, reply) => reply.code(302).header('location', `/pay/${encodeURIComponent(request.params.id)}`).send())

  app.get<{ Params: { id: string } }>('/pay/:id', (request, reply) => {
    const order = book.findByProviderId(request.params.id)
    return unpayablePage(reply, order) ?? html(reply, 200, walletLoginPage(provider, order as Order, [...users.values()].map(userRow)))
  })

  app.post<{ Params: { id: string } }>('/pay/:id/login', (request, reply) => {
    const order = book.findByProviderId(request.params.id)
    const refused = unpayablePage(reply, order)
    if (refused !== undefined) return refused
    const current = order as Order
    if (logins.exhausted(current.provider_order_id)) return html(reply, 429, walletMessagePage(provider, 'Too many attempts', 'Too many wrong logins for this payment.'))
    const form = parseFormParams(rawBodyOf(request).text)
    const username = form.ok ? (form.params.username ?? '') : ''
    const user = users.get(username)
    if (!form.ok || user === undefined || user.password !== form.params.password) {
      const left = logins.fail(current.provider_order_id)
      log.write({ event: 'page_login', trade_no: current.provider_order_id, username: username.slice(0, 40), success: false })
      return html(reply, 401, walletLoginPage(provider, current, [...users.values()].map(userRow), `Wrong login or password (${left} tries left).`))
    }
    log.write({ event: 'page_login', trade_no: current.provider_order_id, username, success: true })
    return html(reply, 200, walletConfirmPage(provider, current, userRow(user), sessions.open(current.provider_order_id, user.username)))
  })

  app.post<{ Params: { id: string } }>('/pay/:id/confirm', (request, reply) => {
    const order = book.findByProviderId(request.params.id)
    const refused = unpayablePage(reply, order)
    if (refused !== undefined) return refused
    const current = order as Order
    const form = parseFormParams(rawBodyOf(request).text)
    const session = form.ok ? sessions.take(form.params.session ?? '', current.provider_order_id) : undefined
    if (session === undefined) return html(reply, 403, walletMessagePage(provider, 'Session expired', 'Please scan the code again.'))
    const user = users.get(session.payer_id)
    assert(user !== undefined, 'a session names a user')
    const paid = book.pay(current.merchant_id, current.order_no, user.username)
    switch (paid.outcome) {
      case 'paid':
      case 'already_paid': {
        const returnUrl = providerShell.returnUrl(paid.order)
        if (returnUrl !== undefined) return reply.code(303).header('location', returnUrl).header('cache-control', 'no-store').send()
        return html(reply, 200, walletMessagePage(provider, 'Paid', `You paid ${paid.order.merchant_id}. You can close this page.`))
      }
      // A wallet lets its user retry: the order stays open, the page says why.
      case 'insufficient_balance':
        return html(reply, 402, walletConfirmPage(provider, paid.order, userRow(user), sessions.open(current.provider_order_id, user.username), 'Your balance is too low for this payment.'))
      case 'account_blocked':
        return html(reply, 403, walletMessagePage(provider, 'Wallet frozen', 'This wallet is frozen and cannot pay.'))
      case 'currency_mismatch':
      case 'account_unknown':
      case 'not_payable':
      case 'expired':
        return unpayablePage(reply, paid.order) ?? html(reply, 409, walletMessagePage(provider, 'Payment refused', 'The wallet refused this payment.'))
    }
  })

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'NOT_FOUND', message: `no such endpoint: ${request.method} ${request.url.split('?')[0] ?? ''}` }))
  app.setErrorHandler((error: { statusCode?: number; message?: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    return reply.code(status).send({ code: status === 500 ? 'SYSTEM_ERROR' : 'PARAM_ERROR', message: status === 500 ? 'system error' : (error.message ?? 'bad request') })
  })

  baseUrl = await listen(app, options.port ?? 0, options.host ?? '127.0.0.1')

  const userView = (user: WalletUser): WalletUserView => {
    const account = book.account(user.username)
    return { username: user.username, display_name: user.display_name, payer_id: user.payer_id, currency: user.currency, balance_minor: account?.balance_minor ?? 0n, blocked: account?.blocked ?? user.blocked }
  }

  return {
    url: baseUrl,
    provider,
    merchants: merchantList,
    rotateKey: async (rotation) => {
      if (shell?.rotateKey === undefined) throw new Error(`${provider.id} has no platform keys to rotate`)
      return shell.rotateKey(rotation)
    },
    walletPublicKeyPem: walletKeys?.public_key_pem,
    walletSerialNo: walletKeys === undefined ? undefined : wechatLikeSerialNo(walletKeys.public_key_pem),
    demoMerchant,
    user: (username) => {
      const user = users.get(username)
      return user === undefined ? undefined : userView(user)
    },
    users: () => [...users.values()].map(userView),
    merchantBalance: (merchantId, currency = 'CNY') => book.merchantBalance(merchantId, currency),
    order: (merchantId, outTradeNo) => book.find(merchantId, outTradeNo),
    orders: () => book.orderList(),
    refunds: () => book.refundList(),
    pay: (tradeNo, username) => {
      const order = book.findByProviderId(tradeNo)
      return order === undefined ? 'order_unknown' : book.pay(order.merchant_id, order.order_no, username).outcome
    },
    setBlocked: (username, blocked) => {
      assert(book.setBlocked(username, blocked), `no user ${username}`)
    },
    setFaults: (rules) => faults.replace(rules),
    notifications: () => notifier.deliveries(),
    notificationsSettled: (timeoutMs) => notifier.settled(timeoutMs),
    logs: () => log.list(),
    totalMinor: (currency = 'CNY') => {
      book.assertConserved()
      return book.totalMinor(currency)
    },
    close: async () => {
      timers.close()
      notifier.close()
      await app.close()
    },
  }
}
