// The shop's hosted checkout (`/pay/{payment_id}?t=…`, the link the merchant API answers as
// `checkout_url`): what is being paid, the ways to pay it now, and each way driven to its end —
// the bank's own pages and back, a wallet's QR code (or the wallet app on a phone), quick pay with
// an SMS code (binding a new account first if need be), the shop's wallet balance — then the
// result. The signed link token `t` is the page's only credential; it talks only to
// `/pay/{id}/api/…` (src/http/routes/checkout). Plain browser JavaScript, no build step.
import { ApiError, byId, callApi, fitQrPicture, formatMinorUnits, h, messageOf, money, newIdempotencyKey, setMessage, showView, whileBusy } from '/assets/kassa.js'
import { exponentOf } from '/checkout/currencies.js'

/** How often a payment waiting at a bank or wallet is checked again (each check asks the counterpart). */
const pollEveryMs = 2_000

const link = readLink()

const ui = {
  /** The last checkout state Kassa answered. */
  state: null,
  /** The pending poll's timer, or null. */
  pollTimer: null,
  /** The SMS step in progress: { purpose: 'binding', channel, binding_request_id } or { purpose: 'payment' }. */
  sms: null,
  /** One action at a time: a second tap while a request runs does nothing. */
  busy: false,
  /** On the way to a bank's page: nothing more is drawn or polled. */
  leaving: false,
  qrFitted: false,
}

const alertBox = byId('alert')

// ---- the link and the API ---------------------------------------------------------------------------

/** The payment id from the path (`/pay/{id}`) and the token from the query; null when either is missing. */
function readLink() {
  const match = /^\/pay\/([^/]+)\/?$/.exec(location.pathname)
  const token = new URLSearchParams(location.search).get('t')
  if (match === null || token === null || token === '') return null
  return { paymentId: decodeURIComponent(match[1]), token }
}

function api(path, options = {}, query = {}) {
  const params = new URLSearchParams({ t: link.token, ...query })
  return callApi(`/pay/${encodeURIComponent(link.paymentId)}/api${path}?${params}`, options)
}

function loadState(refresh = false) {
  return api('/state', {}, refresh ? { refresh: '1' } : {})
}

/** Errors that no retry on this page can mend: the link itself is wrong. */
function isLinkError(error) {
  return error instanceof ApiError && (error.status === 401 || error.code === 'checkout_link_invalid' || (error.status === 404 && error.param === 'id'))
}

// ---- amounts -------------------------------------------------------------------------------------------

/** 12900, 'CNY' → "CNY 129.00": integer minor units, formatted by the currency's exponent (no floats). */
function formatAmount(amount, currency) {
  return money(currency, formatMinorUnits(BigInt(amount), exponentOf(currency)))
}

// ---- messages -------------------------------------------------------------------------------------------

function showAlert(error, headline) {
  setMessage(alertBox, 'error', messageOf(error), headline)
}

function clearMessages() {
  setMessage(alertBox, 'error', '')
  setMessage(byId('payment-error'), 'error', '')
}

/** The page cannot go on: a wrong or incomplete link, an unknown payment, or Kassa out of reach (then it may be retried). */
function showFatal(error, linkBroken = false) {
  stopPolling()
  const notFound = error instanceof ApiError && error.status === 404
  const linkProblem = linkBroken || isLinkError(error) || (error instanceof ApiError && error.status === 400)
  byId('fatal-title').textContent = notFound ? 'This payment was not found' : linkProblem ? 'This payment link cannot be opened' : 'The payment cannot be shown right now'
  byId('fatal-message').textContent = messageOf(error)
  byId('fatal-retry').hidden = linkProblem || notFound
  setMessage(alertBox, 'error', '')
  byId('summary').hidden = true
  showView('fatal-view')
}

byId('fatal-retry').addEventListener('click', () => location.reload())

// ---- drawing the state ---------------------------------------------------------------------------------

function render(state, options = {}) {
  if (ui.leaving) return
  ui.state = state
  const payment = state.payment
  renderSummary(state)
  document.body.dataset.status = payment.status
  if (payment.status !== 'processing') {
    stopPolling()
    ui.qrFitted = false
  }
  switch (payment.status) {
    case 'requires_payment_method':
      ui.sms = null
      renderMethods(state, options.failure)
      return
    case 'processing':
      renderProcessing(state)
      return
    case 'succeeded':
    case 'requires_capture':
    case 'canceled':
    case 'failed':
      renderResult(state)
      return
    default:
      showAlert(new Error(`This payment is in a state this page does not know (${payment.status}).`))
  }
}

function renderSummary(state) {
  const payment = state.payment
  byId('summary').hidden = false
  byId('merchant-name').textContent = state.merchant_name
  byId('topbar-merchant').textContent = state.merchant_name
  byId('amount').textContent = formatAmount(payment.amount, payment.currency)
  byId('order-reference').textContent = payment.order_reference
  const description = payment.description ?? ''
  byId('order-description').textContent = description
  byId('order-description').hidden = description === ''
  byId('order-description-label').hidden = description === ''
  document.title = `Pay ${formatAmount(payment.amount, payment.currency)} · ${state.merchant_name}`
}

const kindNames = { card: 'Card', wallet_balance: 'Shop wallet', netbank: 'Online banking', wallet: 'Wallet', quickpay: 'Quick pay' }

/** The ways this payment can be paid now, in the channels' display order, with saved accounts first. */
function renderMethods(state, failure) {
  const { payment, methods } = state
  const lastError = payment.last_payment_error
  const failureText = failure ?? lastError?.message ?? ''
  setMessage(byId('payment-error'), 'error', failureText, failureText === '' ? undefined : 'The payment did not go through.')
  byId('methods-title').textContent = failureText === '' ? 'Choose how to pay' : 'Choose how to pay again'

  byId('notices').replaceChildren(
    ...methods.unavailable_saved_methods.map((method) =>
      h('p', { class: 'message notice', 'data-kind': 'info', 'data-testid': 'notice', 'data-saved-method': method.id, 'data-channel': method.channel }, method.notice),
    ),
  )

  byId('saved-card').hidden = methods.saved_methods.length === 0
  byId('saved-list').replaceChildren(...methods.saved_methods.map(savedItem))

  const items = []
  const quickpayChannels = methods.channels.filter((channel) => channel.kind === 'quickpay')
  let quickpayListed = false
  for (const channel of methods.channels) {
    if (channel.kind === 'quickpay') {
      // One entry for adding an account, where the first quick-pay bank stands; a binding needs a known shopper.
      if (!quickpayListed && payment.shopper !== null) items.push(addQuickpayItem(quickpayChannels))
      quickpayListed = true
      continue
    }
    if (!(channel.kind in kindNames)) continue
    items.push(channelItem(channel, state))
  }
  byId('method-list').replaceChildren(...items)
  byId('no-methods').hidden = items.length > 0 || methods.saved_methods.length > 0
  showView('methods-view')
}

function methodButton(attributes, kind, name, extra) {
  return h(
    'button',
    { type: 'button', class: 'method', ...attributes },
    h('span', { class: 'method-kind' }, kind),
    h('span', { class: 'method-name' }, name),
    extra ?? '',
    h('span', { class: 'method-go', 'aria-hidden': 'true' }, '›'),
  )
}

function channelItem(channel, state) {
  const payment = state.payment
  let extra
  let paymentMethod
  if (channel.kind === 'wallet_balance') {
    paymentMethod = { type: 'wallet_balance' }
    if (state.wallet_balance !== null) {
      const short = BigInt(state.wallet_balance) < BigInt(payment.amount)
      extra = h(
        'span',
        { class: 'method-extra', 'data-testid': 'wallet-balance', 'data-short': short ? 'true' : 'false' },
        `Available ${formatAmount(state.wallet_balance, payment.currency)}`,
      )
    }
  } else if (channel.kind === 'card') {
    const button = methodButton({ 'data-testid': 'method', 'data-kind': 'card', 'data-channel': channel.id, 'data-provider': '' }, kindNames.card, channel.display_name)
    button.addEventListener('click', () => showCardForm(state))
    return h('li', {}, button)
  } else if (channel.kind === 'netbank') {
    paymentMethod = { type: 'netbank', bank: channel.provider }
  } else {
    paymentMethod = { type: 'wallet', provider: channel.provider }
  }
  const button = methodButton(
    { 'data-testid': 'method', 'data-kind': channel.kind, 'data-channel': channel.id, 'data-provider': channel.provider ?? '' },
    kindNames[channel.kind],
    channel.display_name,
    extra,
  )
  button.addEventListener('click', () => void confirmWith(button, paymentMethod, channel))
  return h('li', {}, button)
}

function addQuickpayItem(quickpayChannels) {
  const button = methodButton(
    { 'data-testid': 'add-quickpay', 'data-kind': 'quickpay' },
    kindNames.quickpay,
    'Add a bank account',
    h('span', { class: 'method-extra' }, quickpayChannels.map((channel) => channel.display_name).join(', ')),
  )
  button.addEventListener('click', () => showBindForm(quickpayChannels))
  return h('li', {}, button)
}

function savedItem(method) {
  const display = method.display ?? {}
  const channel = ui.state.methods.channels.find((candidate) => candidate.id === method.channel)
  const pay = methodButton(
    { 'data-testid': 'pay-saved', 'data-saved-method': method.id },
    kindNames[method.kind] ?? method.kind,
    `${display.bank ?? channel?.display_name ?? method.channel} ${display.account_no_masked ?? ''}`.trim(),
    display.holder_name === undefined ? undefined : h('span', { class: 'method-extra' }, display.holder_name),
  )
  pay.addEventListener('click', () => void confirmWith(pay, { type: 'quickpay', saved_method: method.id }, channel))
  const remove = h('button', { type: 'button', class: 'button remove', 'data-testid': 'remove-saved', 'aria-label': `Remove ${display.account_no_masked ?? method.id}` }, 'Remove')
  remove.addEventListener('click', () => void removeSaved(remove, method))
  return h('li', { class: 'saved', 'data-testid': 'saved-method', 'data-saved-method': method.id, 'data-channel': method.channel }, pay, remove)
}

/** The channel the payment's latest attempt runs on, as the methods list names it. */
function attemptChannel(state) {
  const id = state.attempt?.channel
  if (id === undefined) return undefined
  return state.methods.channels.find((channel) => channel.id === id) ?? { id, kind: id.split('.')[0], display_name: id }
}

function renderProcessing(state) {
  const action = state.payment.next_action
  const channel = attemptChannel(state)
  if (action?.type === 'enter_sms_code') {
    stopPolling()
    if (byId('sms-view').hidden || ui.sms?.purpose !== 'payment') showSms({ purpose: 'payment' }, action.phone_masked)
    return
  }
  if (action?.type === 'display_qr_code') {
    renderQr(state, action, channel)
    schedulePoll()
    return
  }
  const wallet = channel?.kind === 'wallet'
  byId('processing-title').textContent = wallet ? 'Waiting for the wallet…' : 'Waiting for the bank…'
  const continueLink = byId('processing-continue')
  continueLink.hidden = action?.type !== 'redirect_to_url'
  if (action?.type === 'redirect_to_url') {
    continueLink.href = action.url
    continueLink.textContent = `Continue at ${channel?.display_name ?? 'the bank'}`
  }
  byId('processing-detail').textContent =
    action?.type === 'redirect_to_url'
      ? 'If you have not paid at your bank yet, continue there. This page updates by itself as soon as the bank answers.'
      : 'This page updates by itself as soon as the bank or wallet answers. You can leave it open.'
  showView('processing-view')
  schedulePoll()
}

function renderQr(state, action, channel) {
  const image = byId('qr-image')
  byId('qr-title').textContent = `Pay with ${channel?.display_name ?? 'your wallet'}`
  const walletLink = byId('wallet-link')
  walletLink.href = action.url
  walletLink.textContent = `Open ${channel?.display_name ?? 'the wallet'}`
  if (image.dataset.code !== action.qr_code) {
    image.dataset.code = action.qr_code
    if (typeof state.qr_image === 'string') {
      image.src = state.qr_image
      image.hidden = false
      byId('qr-placeholder').hidden = true
    } else {
      image.removeAttribute('src')
      image.hidden = true
      byId('qr-placeholder').hidden = false
      byId('qr-placeholder').textContent = 'The code cannot be drawn here: use the button below.'
    }
  }
  showView('qr-view')
  if (!ui.qrFitted) {
    fitQrPicture(image, byId('qr-box'))
    ui.qrFitted = true
  }
}

function renderResult(state) {
  const payment = state.payment
  const view = byId('result-view')
  const outcomes = {
    succeeded: { mark: '✓', title: 'Paid', detail: 'Thank you. The shop has your payment; you can close this page.' },
    requires_capture: { mark: '✓', title: 'Authorized', detail: 'The amount is reserved; the shop takes it when it ships your order.' },
    canceled: { mark: '✕', title: 'Canceled', detail: 'This payment was canceled. Nothing was charged; ask the shop for a new link to pay.' },
    failed: { mark: '!', title: 'Payment failed', detail: payment.last_payment_error?.message ?? 'The payment could not be completed. Nothing was charged.' },
  }
  const outcome = outcomes[payment.status]
  view.dataset.status = payment.status
  byId('result-mark').textContent = outcome.mark
  byId('result-title').textContent = outcome.title
  byId('result-detail').textContent = outcome.detail
  byId('result-amount').textContent = formatAmount(payment.amount, payment.currency)
  byId('result-merchant').textContent = state.merchant_name
  byId('result-reference').textContent = payment.order_reference
  byId('result-payment').textContent = payment.id
  setMessage(alertBox, 'error', '')
  showView('result-view')
}

// ---- polling while a counterpart has the payment -----------------------------------------------------------

function schedulePoll() {
  if (ui.pollTimer !== null || ui.leaving) return
  ui.pollTimer = setTimeout(pollOnce, pollEveryMs)
}

function stopPolling() {
  if (ui.pollTimer !== null) clearTimeout(ui.pollTimer)
  ui.pollTimer = null
}

async function pollOnce() {
  let state
  try {
    state = await loadState(true)
  } catch (error) {
    ui.pollTimer = null
    if (isLinkError(error)) return showFatal(error)
    showAlert(error, 'Could not check the payment; trying again.')
    schedulePoll()
    return
  }
  ui.pollTimer = null
  if (alertBox.dataset.kind === 'error') setMessage(alertBox, 'error', '')
  render(state)
}

// ---- actions -------------------------------------------------------------------------------------------------

/** Runs one shopper action: one at a time, the tapped button busy, any failure shown. */
async function act(button, action) {
  if (ui.busy) return
  ui.busy = true
  document.body.dataset.busy = 'true'
  try {
    await whileBusy(button, action)
  } catch (error) {
    await showActionError(error)
  } finally {
    ui.busy = false
    delete document.body.dataset.busy
  }
}

/**
 * A refused request: a decline (`payment_error`, e.g. insufficient_funds) is the payment not going
 * through — the methods again, with why; anything else is shown in the alert, over the state as
 * Kassa now has it.
 */
async function showActionError(error) {
  if (isLinkError(error)) return showFatal(error)
  if (!(error instanceof ApiError) || error.status === 0) {
    showAlert(error, 'Nothing was sent.')
    return
  }
  let fresh
  try {
    fresh = await loadState()
  } catch {
    fresh = undefined
  }
  if (error.type === 'payment_error') {
    if (fresh !== undefined) render(fresh, { failure: error.message })
    else showAlert(error, 'The payment did not go through.')
    return
  }
  if (fresh !== undefined) render(fresh)
  showAlert(error)
}

function confirmWith(button, paymentMethod, channel) {
  return act(button, async () => {
    clearMessages()
    const payment = await api('/confirm', { method: 'POST', body: { payment_method: paymentMethod }, idempotencyKey: newIdempotencyKey('checkout') })
    await afterConfirm(payment, channel)
  })
}

async function afterConfirm(payment, channel) {
  const action = payment.next_action
  if (payment.status === 'processing' && action?.type === 'redirect_to_url') return goToBank(action.url, channel)
  render(await loadState())
}

function goToBank(url, channel) {
  stopPolling()
  ui.leaving = true
  byId('redirect-title').textContent = `Taking you to ${channel?.display_name ?? 'your bank'}…`
  byId('redirect-link').href = url
  showView('redirect-view')
  location.assign(url)
}

function removeSaved(button, method) {
  return act(button, async () => {
    clearMessages()
    render(await api(`/saved_methods/${encodeURIComponent(method.id)}`, { method: 'DELETE' }))
  })
}

// ---- quick pay: binding a new account ------------------------------------------------------------------------

function showBindForm(quickpayChannels) {
  clearMessages()
  const select = byId('bind-bank')
  const chosen = select.value
  select.replaceChildren(...quickpayChannels.map((channel) => h('option', { value: channel.id }, channel.display_name)))
  if (quickpayChannels.some((channel) => channel.id === chosen)) select.value = chosen
  setMessage(byId('bind-error'), 'error', '')
  showView('bind-view')
  byId('bind-account').focus()
}

byId('bind-back').addEventListener('click', () => {
  if (ui.state !== null) render(ui.state)
})

byId('bind-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const bindError = byId('bind-error')
  const channel = byId('bind-bank').value
  const accountNo = byId('bind-account').value.replace(/[\s-]/g, '')
  const holderName = byId('bind-holder').value.trim()
  const phone = byId('bind-phone').value.replace(/[\s-]/g, '')
  const problem =
    channel === '' ? 'Choose your bank.'
    : !/^[0-9]{12,19}$/.test(accountNo) ? 'The card or account number is 12 to 19 digits.'
    : holderName === '' ? 'Enter the name on the account.'
    : !/^[0-9]{11}$/.test(phone) ? 'The phone number is 11 digits.'
    : undefined
  if (problem !== undefined) return setMessage(bindError, 'error', problem)
  void act(byId('bind-submit'), async () => {
    setMessage(bindError, 'error', '')
    try {
      const started = await api('/quickpay/bindings', { method: 'POST', body: { channel, account_no: accountNo, holder_name: holderName, phone } })
      showSms({ purpose: 'binding', channel, binding_request_id: started.binding_request_id }, started.phone_masked)
    } catch (error) {
      if (isLinkError(error)) throw error
      setMessage(bindError, 'error', messageOf(error), error instanceof ApiError && error.status === 402 ? 'The bank did not accept this account.' : undefined)
    }
  })
})

// ---- cards ---------------------------------------------------------------------------------------------------------

function showCardForm(state) {
  clearMessages()
  byId('card-submit').textContent = `Pay ${formatAmount(state.payment.amount, state.payment.currency)}`
  setMessage(byId('card-error'), 'error', '')
  showView('card-view')
  byId('card-number').focus()
}

byId('card-back').addEventListener('click', () => {
  if (ui.state !== null) render(ui.state)
})

/** "12/29" → { exp_month: 12, exp_year: 2029 }; null when it is not a month and a two-digit year. */
function readExpiry(text) {
  const match = /^\s*(0?[1-9]|1[0-2])\s*\/?\s*([0-9]{2})\s*$/.exec(text)
  return match === null ? null : { exp_month: Number(match[1]), exp_year: 2000 + Number(match[2]) }
}

byId('card-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const cardError = byId('card-error')
  const number = byId('card-number').value.replace(/[\s-]/g, '')
  const expiry = readExpiry(byId('card-expiry').value)
  const cvc = byId('card-cvc').value.trim()
  const problem =
    !/^[0-9]{12,19}$/.test(number) ? 'The card number is 12 to 19 digits.'
    : expiry === null ? 'The expiry date is the month and year on the card, such as 12/29.'
    : cvc !== '' && !/^[0-9]{3,4}$/.test(cvc) ? 'The security code is the 3 or 4 digits on the card.'
    : undefined
  if (problem !== undefined) return setMessage(cardError, 'error', problem)
  const channel = ui.state?.methods.channels.find((candidate) => candidate.kind === 'card')
  void act(byId('card-submit'), async () => {
    setMessage(cardError, 'error', '')
    let card
    try {
      card = await api('/cards', { method: 'POST', body: { number, ...expiry, ...(cvc === '' ? {} : { cvc }) } })
    } catch (error) {
      if (isLinkError(error)) throw error
      return setMessage(cardError, 'error', messageOf(error), 'The card was not accepted.')
    }
    const payment = await api('/confirm', { method: 'POST', body: { payment_method: { type: 'card', card: card.id } }, idempotencyKey: newIdempotencyKey('checkout') })
    await afterConfirm(payment, channel)
  })
})

// ---- SMS codes ---------------------------------------------------------------------------------------------------

function showSms(sms, phoneMasked) {
  ui.sms = sms
  const binding = sms.purpose === 'binding'
  const view = byId('sms-view')
  view.dataset.purpose = sms.purpose
  byId('sms-title').textContent = binding ? 'Confirm your bank account' : 'Confirm the payment'
  byId('sms-sent').textContent = `Your bank sent a code by SMS to ${phoneMasked}.`
  byId('sms-submit').textContent = binding ? 'Save the account and pay' : `Pay ${formatAmount(ui.state.payment.amount, ui.state.payment.currency)}`
  // A payment waiting for its code stays with the bank until it is confirmed or expires: no way back from it.
  byId('sms-back').hidden = !binding
  byId('sms-code').value = ''
  setMessage(byId('sms-error'), 'error', '')
  showView('sms-view')
  byId('sms-code').focus()
}

byId('sms-back').addEventListener('click', () => {
  ui.sms = null
  if (ui.state !== null) render(ui.state)
})

byId('sms-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const smsError = byId('sms-error')
  const input = byId('sms-code')
  const code = input.value.replace(/\s/g, '')
  if (!/^[0-9]{4,8}$/.test(code)) {
    setMessage(smsError, 'error', 'The SMS code is 4 to 8 digits.')
    input.focus()
    return
  }
  const sms = ui.sms
  if (sms === null) return
  void act(byId('sms-submit'), async () => {
    setMessage(smsError, 'error', '')
    clearMessages()
    if (sms.purpose === 'binding') {
      let saved
      try {
        saved = await api('/quickpay/bindings/confirm', { method: 'POST', body: { channel: sms.channel, binding_request_id: sms.binding_request_id, sms_code: code } })
      } catch (error) {
        return smsRefused(error)
      }
      ui.sms = null
      // The account is saved: pay with it now (the bank sends a new code for the payment).
      const channel = ui.state.methods.channels.find((candidate) => candidate.id === saved.channel)
      const payment = await api('/confirm', {
        method: 'POST',
        body: { payment_method: { type: 'quickpay', saved_method: saved.id } },
        idempotencyKey: newIdempotencyKey('checkout'),
      })
      await afterConfirm(payment, channel)
      return
    }
    let state
    try {
      state = await api('/sms_code', { method: 'POST', body: { sms_code: code } })
    } catch (error) {
      if (error instanceof ApiError && error.code === 'payment_not_awaiting_sms_code') throw error
      return smsRefused(error)
    }
    ui.sms = null
    render(state)
  })
})

/** A refused code (or any refusal of this step): said next to the field, the shopper tries again. */
function smsRefused(error) {
  if (isLinkError(error)) throw error
  const input = byId('sms-code')
  setMessage(byId('sms-error'), 'error', messageOf(error), error instanceof ApiError && error.code === 'sms_code_invalid' ? 'That code did not work.' : undefined)
  input.value = ''
  input.focus()
}

// ---- start ----------------------------------------------------------------------------------------------------------

async function start() {
  if (link === null) {
    showFatal(new Error('This address is missing the payment or its key. Open the payment link from the shop again.'), true)
    return
  }
  try {
    render(await loadState())
  } catch (error) {
    showFatal(error)
  }
}

// Back from the bank's page with the browser's Back button: the page may come back from the
// back-forward cache exactly as it was left ("Taking you to your bank…"); ask Kassa again.
window.addEventListener('pageshow', (event) => {
  if (!event.persisted || link === null) return
  ui.leaving = false
  ui.busy = false
  void start()
})

void start()
