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
  expired: { headline: 'This code has expired.', text: 'Ask the courier to show a new code.', kind: 'error' },
  replaced: { headline: 'This code was replaced.', text: 'The amount changed and the courier made a new code: scan the new one.', kind: 'error' },
}

/** Pay failures Kassa names, and the state of the code they mean. */
const payFailures = {
  qr_already_paid: { headline: 'Already paid.', status: 'paid' },
  qr_expired: { headline: 'This code has expired.', status: 'expired' },
  qr_replaced: { headline: 'This code was replaced.', status: 'replaced' },
  insufficient_funds: { headline: 'Not enough balance.', status: 'payable' },
}

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
    const wallet = (state.me?.balances ?? []).find((balance) => balance.currency === resolved.currency)
    byId('confirm-funding').textContent =
      wallet === undefined ? `From your wallet balance.` : `From your wallet balance (${money(wallet.currency, wallet.available_display)} available).`
  } else {
    setMessage(status, known?.kind ?? 'error', known?.text ?? `Kassa says this code is ${resolved.status}.`, known?.headline)
    payButton.hidden = true
    byId('confirm-funding').textContent = ''
  }
  showView('confirm-view')
}

byId('confirm-cancel').addEventListener('click', goHome)

byId('pay-button').addEventListener('click', (event) => {
  const current = state.current
  if (current === null) return
  void whileBusy(event.currentTarget, async () => {
    const status = byId('confirm-status')
    setMessage(status, 'info', '')
    try {
      const answer = await shopperApi('/codes/pay', { method: 'POST', body: { payload: current.payload }, idempotencyKey: current.idempotencyKey })
      showReceipt(answer.receipt)
      void loadMe().catch(() => undefined)
    } catch (error) {
      if (state.token === null) return
      const failure = error instanceof ApiError ? payFailures[error.code] : undefined
      if (failure !== undefined && failure.status !== 'payable') {
        status.dataset.status = failure.status
        byId('confirm-card').dataset.payable = 'false'
        byId('pay-button').hidden = true
        byId('confirm-funding').textContent = ''
      }
      setMessage(status, failure?.status === 'paid' ? 'success' : 'error', messageOf(error), failure?.headline ?? 'Payment failed.')
    }
  })
})

function showReceipt(receipt) {
  byId('receipt-amount').textContent = money(receipt.currency, receipt.amount_display)
  byId('receipt-merchant').textContent = receipt.merchant_name
  byId('receipt-parcel').textContent = receipt.parcel_number
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
