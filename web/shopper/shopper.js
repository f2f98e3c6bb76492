// The shop app's stand-in at the door: scan the courier's QR (camera, picture or pasted text), show
// what Kassa says it is for (never the amount inside the code), pay from the wallet balance, keep
// the receipt; or show the shopper's own code for the courier to scan. Talks only to /shopper/v1.
import {
  ApiError,
  CameraScanner,
  byId,
  callApi,
  decodeQrFromFile,
  fitQrPicture,
  formatTime,
  h,
  messageOf,
  money,
  newIdempotencyKey,
  setMessage,
  showView,
  startCountdown,
  whileBusy,
} from '/assets/kassa.js'

const tokenKey = 'kassa.shopper.token'

const state = {
  token: sessionStorage.getItem(tokenKey),
  me: null,
  /** The code being looked at: its text, Kassa's answer about it, and the key that makes a retried Pay one payment. */
  current: null,
  scanner: null,
  stopCountdown: () => {},
}

const message = byId('shop-message')

// ---- API ----------------------------------------------------------------------------------------------

async function shopperApi(path, options = {}) {
  try {
    return await callApi(`/shopper/v1${path}`, { ...options, token: state.token })
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && state.token !== null) signOut(error.message)
    throw error
  }
}

// ---- sign in / out ---------------------------------------------------------------------------------------

/** A token given in the address (`/shop#token=st_…`) signs in and is then removed from the address bar and history. */
function takeTokenFromHash() {
  if (!location.hash.startsWith('#')) return
  const token = new URLSearchParams(location.hash.slice(1)).get('token')
  if (token === null || token.trim() === '') return
  state.token = token.trim()
  sessionStorage.setItem(tokenKey, state.token)
  history.replaceState(null, '', location.pathname + location.search)
}

byId('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const token = byId('token-input').value.trim()
  if (token === '') return setMessage(byId('login-error'), 'error', 'Paste your shopper token first.')
  void whileBusy(byId('login-submit'), async () => {
    state.token = token
    const ok = await enterApp()
    if (ok) {
      sessionStorage.setItem(tokenKey, token)
      byId('token-input').value = ''
    }
  })
})

byId('logout-button').addEventListener('click', () => signOut(''))

/** Loads the shopper and shows home; false (with the sign-in form and Kassa's message) when the token is refused. */
async function enterApp() {
  try {
    await loadMe()
  } catch (error) {
    const refused = error instanceof ApiError && error.status === 401
    if (!refused) {
      // Kassa is unreachable or failing: keep the token, say why, let the person retry.
      showView('login-view')
      setMessage(byId('login-error'), 'error', messageOf(error), 'Could not reach your account.')
    }
    return false
  }
  setMessage(byId('login-error'), 'error', '')
  byId('logout-button').hidden = false
  goHome()
  return true
}

function signOut(reason) {
  stopScanner()
  state.stopCountdown()
  state.token = null
  state.me = null
  state.current = null
  sessionStorage.removeItem(tokenKey)
  byId('shopper-name').textContent = ''
  byId('logout-button').hidden = true
  setMessage(message, 'error', '')
  setMessage(byId('login-error'), 'error', reason, reason === '' ? undefined : 'Signed out.')
  showView('login-view')
}

async function loadMe() {
  const me = await shopperApi('/me')
  state.me = me
  byId('shopper-name').textContent = me.name ?? me.id
  const balance = byId('balance')
  const balances = Array.isArray(me.balances) ? me.balances : []
  if (balances.length === 0) {
    balance.textContent = 'No balance'
    return
  }
  const [first, ...others] = balances
  balance.replaceChildren(money(first.currency, first.available_display))
  for (const other of others) {
    const line = document.createElement('span')
    line.className = 'second'
    line.textContent = money(other.currency, other.available_display)
    balance.append(line)
  }
}

function goHome() {
  stopScanner()
  state.stopCountdown()
  state.stopCountdown = () => {}
  state.current = null
  showView('home-view')
}

// ---- reading the courier's code -------------------------------------------------------------------------

function stopScanner() {
  state.scanner?.stop()
  state.scanner = null
  byId('scan-area').hidden = true
  byId('scan-camera-button').hidden = false
}

byId('scan-camera-button').addEventListener('click', (event) =>
  whileBusy(event.currentTarget, async () => {
    setMessage(message, 'error', '')
    const scanner = new CameraScanner(byId('scan-video'), (payload) => {
      stopScanner()
      byId('payload-input').value = payload
      void checkPayload(payload)
    })
    byId('scan-area').hidden = false
    state.scanner = scanner
    try {
      await scanner.start()
      byId('scan-camera-button').hidden = true
    } catch (error) {
      stopScanner()
      setMessage(message, 'error', messageOf(error))
    }
  }),
)

byId('scan-stop').addEventListener('click', stopScanner)

byId('scan-file').addEventListener('change', async (event) => {
  const input = event.currentTarget
  const file = input.files?.[0]
  if (file === undefined) return
  setMessage(message, 'info', 'Reading the picture…')
  try {
    const payload = await decodeQrFromFile(file)
    if (payload === null) {
      setMessage(message, 'error', 'Take the picture again with the whole code in view, or paste its text.', 'No QR code found in this picture.')
      return
    }
    byId('payload-input').value = payload
    setMessage(message, 'error', '')
    await checkPayload(payload)
  } catch (error) {
    setMessage(message, 'error', messageOf(error), 'Could not read the picture.')
  } finally {
    input.value = '' // the same picture can be chosen again
  }
})

byId('payload-submit').addEventListener('click', (event) =>
  whileBusy(event.currentTarget, () => checkPayload(byId('payload-input').value)),
)

/** Asks Kassa what the code is for; the page shows Kassa's merchant, parcel and amount, never the code's own. */
async function checkPayload(text) {
  const payload = text.trim()
  if (payload === '') return setMessage(message, 'error', "Scan the courier's code, upload a picture of it, or paste its text.")
  setMessage(message, 'error', '')
  try {
    const resolved = await shopperApi('/codes/resolve', { method: 'POST', body: { payload } })
    state.current = { payload, resolved, idempotencyKey: newIdempotencyKey('pay') }
    // This shopper's own bank payment of the code is under way (a reloaded page): back to its SMS step.
    if (resolved.status === 'paying' && typeof resolved.door_payment === 'string') {
      showDoorAttempt(await shopperApi(`/door_payments/${resolved.door_payment}`))
      return
    }
    showConfirm(resolved)
  } catch (error) {
    if (state.token === null) return
    setMessage(message, 'error', messageOf(error), 'This code cannot be used.')
  }
}

// ---- confirm and pay ---------------------------------------------------------------------------------------

/** What each non-payable state means for the shopper at the door. */
const codeStates = {
  paid: { headline: 'Already paid.', text: 'This code has been paid: there is nothing more to pay for this parcel.', kind: 'success' },
  paying: { headline: 'A payment is under way.', text: 'Someone is paying this code through their bank. Wait a moment and scan again, or ask the courier for a new code.', kind: 'info' },
  expired: { headline: 'This code has expired.', text: 'Ask the courier to show a new code.', kind: 'error' },
  replaced: { headline: 'This code was replaced.', text: 'The amount changed and the courier made a new code: scan the new one.', kind: 'error' },
}

/** Pay failures Kassa names, and the state of the code they mean. */
const payFailures = {
  qr_already_paid: { headline: 'Already paid.', status: 'paid' },
  qr_expired: { headline: 'This code has expired.', status: 'expired' },
  qr_replaced: { headline: 'This code was replaced.', status: 'replaced' },
  insufficient_funds: { headline: 'Not enough balance.', status: 'payable' },
  qr_payment_in_progress: { headline: 'A payment is under way.', status: 'paying' },
}

const walletChoice = 'wallet_balance'

function showConfirm(resolved) {
  byId('confirm-merchant').textContent = resolved.merchant_name
  byId('confirm-parcel').textContent = resolved.parcel_number
  byId('confirm-amount').textContent = money(resolved.currency, resolved.amount_display)
  const status = byId('confirm-status')
  status.dataset.status = resolved.status
  const known = codeStates[resolved.status]
  const payButton = byId('pay-button')
  byId('confirm-card').dataset.payable = String(resolved.status === 'payable')
  if (resolved.status === 'payable') {
    setMessage(status, 'info', '')
    payButton.hidden = false
    payButton.textContent = `Pay ${money(resolved.currency, resolved.amount_display)}`
    showFunding(resolved)
  } else {
    setMessage(status, known?.kind ?? 'error', known?.text ?? `Kassa says this code is ${resolved.status}.`, known?.headline)
    payButton.hidden = true
    byId('funding-options').hidden = true
    byId('confirm-funding').textContent = ''
  }
  showView('confirm-view')
}

/** A saved account as the shopper knows it: the bank and the last digits. */
function savedLabel(method) {
  const display = method.display ?? {}
  return { title: `${display.bank ?? method.channel} quick pay`, detail: `${display.account_no_masked ?? ''}${display.holder_name ? ` · ${display.holder_name}` : ''}` }
}

/** The wallet balance and the shopper's saved bank accounts, as choices; the wallet is chosen first. */
function showFunding(resolved) {
  const wallet = (state.me?.balances ?? []).find((balance) => balance.currency === resolved.currency)
  const saved = Array.isArray(resolved.saved_methods) ? resolved.saved_methods : []
  const unavailable = Array.isArray(resolved.unavailable_saved_methods) ? resolved.unavailable_saved_methods : []
  const list = byId('funding-list')
  const option = (value, title, detail, available = true) => {
    const input = h('input', { type: 'radio', name: 'funding', value, 'data-testid': `funding-${value}` })
    input.checked = value === walletChoice
    input.disabled = !available
    input.addEventListener('change', () => describeFunding(resolved))
    return h('label', { class: 'funding-option', 'data-available': String(available) }, input, h('span', {}, title, h('span', { class: 'detail' }, detail)))
  }
  list.replaceChildren(
    option(walletChoice, 'Wallet balance', wallet === undefined ? 'No balance in this currency' : `${money(wallet.currency, wallet.available_display)} available`),
    ...saved.map((method) => {
      const label = savedLabel(method)
      return option(method.id, label.title, label.detail)
    }),
    ...unavailable.map((method) => option(method.id, savedLabel(method).title, method.notice, false)),
  )
  byId('funding-options').hidden = saved.length === 0 && unavailable.length === 0
  describeFunding(resolved)
}

function chosenFunding() {
  return document.querySelector('input[name="funding"]:checked')?.value ?? walletChoice
}

function describeFunding(resolved) {
  const choice = chosenFunding()
  const wallet = (state.me?.balances ?? []).find((balance) => balance.currency === resolved.currency)
  byId('confirm-funding').textContent =
    choice !== walletChoice
      ? 'Your bank will send an SMS code to confirm this payment.'
      : wallet === undefined
        ? 'From your wallet balance.'
        : `From your wallet balance (${money(wallet.currency, wallet.available_display)} available).`
}

byId('confirm-cancel').addEventListener('click', goHome)

byId('pay-button').addEventListener('click', (event) => {
  const current = state.current
  if (current === null) return
  void whileBusy(event.currentTarget, async () => {
    const status = byId('confirm-status')
    setMessage(status, 'info', '')
    const choice = chosenFunding()
    const body = choice === walletChoice ? { payload: current.payload } : { payload: current.payload, saved_method: choice }
    try {
      const answer = await shopperApi('/codes/pay', { method: 'POST', body, idempotencyKey: current.idempotencyKey })
      if (answer.receipt !== undefined && answer.status === 'paid') {
        showReceipt(answer.receipt)
        void loadMe().catch(() => undefined)
        return
      }
      showDoorAttempt(answer)
    } catch (error) {
      if (state.token === null) return
      payFailed(error)
    }
  })
})

/** Shows why a payment did not go through; a code that cannot be paid any more loses its Pay button. */
function payFailed(error) {
  const status = byId('confirm-status')
  const failure = error instanceof ApiError ? payFailures[error.code] : undefined
  if (failure !== undefined && failure.status !== 'payable') {
    status.dataset.status = failure.status
    byId('confirm-card').dataset.payable = 'false'
    byId('pay-button').hidden = true
    byId('funding-options').hidden = true
    byId('confirm-funding').textContent = ''
  }
  setMessage(status, failure?.status === 'paid' ? 'success' : 'error', messageOf(error), failure?.headline ?? 'Payment failed.')
}

// ---- a saved bank account pays: the SMS step -------------------------------------------------------------------

/** Where the bank payment stands: waiting for the SMS code, paid, or ended without paying. */
function showDoorAttempt(answer) {
  const current = state.current
  if (current === null) return
  current.attempt = answer.attempt
  if (answer.status === 'paid') {
    showReceipt(answer.receipt)
    void loadMe().catch(() => undefined)
    return
  }
  if (answer.status === 'failed' || answer.status === 'returned') {
    // Back to the parcel: the code can be paid another way (Kassa says so in code_status).
    current.idempotencyKey = newIdempotencyKey('pay')
    const resolved = { ...current.resolved, status: answer.code_status ?? current.resolved.status }
    showConfirm(resolved)
    setMessage(byId('confirm-status'), 'error', answer.message ?? 'The bank did not take the payment.', answer.status === 'returned' ? 'Your bank payment is being returned.' : 'Your bank did not pay.')
    return
  }
  const phone = answer.next_action?.phone_masked
  byId('sms-sent').textContent =
    answer.status === 'processing'
      ? 'Your bank has not answered yet. When its SMS code arrives, type it here.'
      : `Your bank sent a code to ${phone ?? 'your phone'}.`
  byId('sms-amount').textContent = money(current.resolved.currency, current.resolved.amount_display)
  byId('sms-code').value = ''
  setMessage(byId('sms-error'), 'error', '')
  showView('sms-view')
  byId('sms-code').focus()
}

byId('sms-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const current = state.current
  const code = byId('sms-code').value.trim()
  if (current?.attempt === undefined) return
  if (!/^[0-9]{4,8}$/.test(code)) return setMessage(byId('sms-error'), 'error', 'The SMS code is 4 to 8 digits.')
  void whileBusy(byId('sms-submit'), async () => {
    try {
      showDoorAttempt(await shopperApi(`/door_payments/${current.attempt}/sms_code`, { method: 'POST', body: { sms_code: code } }))
    } catch (error) {
      if (state.token === null) return
      setMessage(byId('sms-error'), 'error', messageOf(error), error instanceof ApiError && error.code === 'sms_code_invalid' ? 'Wrong code.' : 'Could not confirm.')
    }
  })
})

byId('sms-cancel').addEventListener('click', (event) => {
  const current = state.current
  if (current?.attempt === undefined) return goHome()
  void whileBusy(event.currentTarget, async () => {
    try {
      showDoorAttempt(await shopperApi(`/door_payments/${current.attempt}/cancel`, { method: 'POST' }))
    } catch (error) {
      if (state.token === null) return
      setMessage(byId('sms-error'), 'error', messageOf(error), 'Could not cancel at the bank.')
    }
  })
})

function showReceipt(receipt) {
  byId('receipt-amount').textContent = money(receipt.currency, receipt.amount_display)
  byId('receipt-merchant').textContent = receipt.merchant_name
  byId('receipt-parcel').textContent = receipt.parcel_number
  byId('receipt-method').textContent = receipt.paid_with === 'wallet_balance' || receipt.paid_with == null ? 'Wallet balance' : receipt.paid_with.startsWith('quickpay.') ? `Quick pay (${receipt.paid_with.slice('quickpay.'.length)})` : receipt.paid_with
  byId('receipt-time').textContent = formatTime(receipt.paid_at)
  byId('receipt-payment').textContent = receipt.payment
  byId('payload-input').value = ''
  state.current = null
  showView('receipt-view')
}

byId('receipt-done').addEventListener('click', goHome)

// ---- my own code (consumer-presented) ------------------------------------------------------------------------

async function showMyCode() {
  state.stopCountdown()
  const image = byId('cpm-image')
  image.hidden = true
  byId('cpm-placeholder').hidden = false
  byId('cpm-placeholder').textContent = 'Making your code…'
  byId('cpm-countdown').textContent = ''
  byId('cpm-payload').textContent = ''
  showView('code-view')
  try {
    const code = await shopperApi('/cpm', { method: 'POST', idempotencyKey: newIdempotencyKey('cpm') })
    image.src = code.image
    image.hidden = false
    byId('cpm-placeholder').hidden = true
    byId('cpm-payload').textContent = code.payload
    state.stopCountdown = startCountdown(byId('cpm-countdown'), code.expires_at, () => {
      image.hidden = true
      byId('cpm-placeholder').hidden = false
      byId('cpm-placeholder').textContent = 'This code has expired. Tap “New code”.'
    })
  } catch (error) {
    if (state.token === null) return
    byId('cpm-placeholder').textContent = ''
    goHome()
    setMessage(message, 'error', messageOf(error), 'Could not make your code.')
  }
}

byId('show-code-button').addEventListener('click', (event) => whileBusy(event.currentTarget, showMyCode))
byId('code-refresh').addEventListener('click', (event) => whileBusy(event.currentTarget, showMyCode))
byId('code-close').addEventListener('click', () => {
  goHome()
  void loadMe().catch(() => undefined)
})

fitQrPicture(byId('cpm-image'), document.querySelector('.cpm-box'))

// ---- start ------------------------------------------------------------------------------------------------------

takeTokenFromHash()
if (state.token === null) showView('login-view')
else void enterApp()

// A link with #token=… opened on the page already showing (same document: no reload) signs in too.
window.addEventListener('hashchange', () => {
  const before = state.token
  takeTokenFromHash()
  if (state.token !== null && state.token !== before) void enterApp()
})
