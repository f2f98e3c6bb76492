// The courier's handheld: sign in, today's deliveries, one parcel's full-screen dynamic QR with a
// live "PAID" (Server-Sent Events), a lower amount when the shopper refuses an item, cash, and
// scanning the shopper's own code. Talks only to Kassa's /courier/v1 API.
import {
  ApiError,
  CameraScanner,
  byId,
  callApi,
  exponentOfDisplay,
  fitQrPicture,
  formatMinorUnits,
  h,
  messageOf,
  minorUnitsForJson,
  money,
  newIdempotencyKey,
  parseMajorUnits,
  serverNow,
  setMessage,
  showView,
  startCountdown,
  whileBusy,
} from '/assets/kassa.js'

const storageKeys = { token: 'kassa.courier.token', courier: 'kassa.courier.profile' }
/** How often the page asks for its deliveries while the live stream is down (it still shows PAID, a little later). */
const pollWhileOfflineMs = 5_000
/** A code this close to its expiry is replaced rather than shown when a parcel is opened. */
const codeFreshnessMarginMs = 5_000

const state = {
  token: sessionStorage.getItem(storageKeys.token),
  courier: readJson(sessionStorage.getItem(storageKeys.courier)),
  /** @type {any[]} */
  deliveries: [],
  /** The delivery shown full screen, by id; null on the list. */
  openId: null,
  stopCountdown: () => {},
  /** @type {EventSource | null} */
  events: null,
  liveState: 'off',
  reconnectTimer: 0,
  pollTimer: 0,
  scanner: null,
}

function readJson(text) {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

// ---- API ------------------------------------------------------------------------------------------

/** Calls the courier API with this session's token; a 401 ends the session and shows the sign-in form. */
async function courierApi(path, options = {}) {
  try {
    return await callApi(`/courier/v1${path}`, { ...options, token: state.token })
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && state.token !== null) {
      signOut(`Your session has ended: ${error.message} Sign in again.`)
    }
    throw error
  }
}

function findDelivery(id) {
  return state.deliveries.find((delivery) => delivery.id === id)
}

function putDelivery(delivery) {
  const index = state.deliveries.findIndex((known) => known.id === delivery.id)
  if (index < 0) state.deliveries.push(delivery)
  else state.deliveries[index] = delivery
  renderDeliveries()
}

// ---- sign in / out ------------------------------------------------------------------------------

byId('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const username = byId('login-username').value.trim()
  const password = byId('login-password').value
  const errorBox = byId('login-error')
  if (username === '' || password === '') {
    setMessage(errorBox, 'error', 'Enter your username and password.')
    return
  }
  void whileBusy(byId('login-submit'), async () => {
    setMessage(errorBox, 'error', '')
    try {
      const session = await callApi('/courier/v1/sessions', { method: 'POST', body: { username, password } })
      state.token = session.token
      state.courier = session.courier
      sessionStorage.setItem(storageKeys.token, session.token)
      sessionStorage.setItem(storageKeys.courier, JSON.stringify(session.courier))
      byId('login-password').value = ''
      enterApp()
    } catch (error) {
      setMessage(errorBox, 'error', messageOf(error), error instanceof ApiError && error.status === 401 ? 'Sign-in refused.' : undefined)
    }
  })
})

byId('logout-button').addEventListener('click', () => signOut(''))

function stationName(station) {
  if (station === null || station === undefined) return ''
  if (typeof station === 'object') return station.name ?? station.id ?? ''
  return String(station)
}

function enterApp() {
  const courier = state.courier ?? {}
  const station = stationName(courier.station)
  const who = [courier.name, station].filter((part) => part).join(' · ')
  byId('courier-name').textContent = who
  byId('courier-name').title = who
  byId('logout-button').hidden = false
  byId('live-status').hidden = false
  showView('list-view')
  void loadDeliveries()
  void loadCash()
  connectLive()
}

function signOut(reason) {
  closeParcel()
  state.events?.close()
  state.events = null
  clearTimeout(state.reconnectTimer)
  clearInterval(state.pollTimer)
  state.pollTimer = 0
  state.token = null
  state.courier = null
  state.deliveries = []
  sessionStorage.removeItem(storageKeys.token)
  sessionStorage.removeItem(storageKeys.courier)
  byId('courier-name').textContent = ''
  byId('logout-button').hidden = true
  byId('live-status').hidden = true
  byId('deliveries').replaceChildren()
  for (const dialog of document.querySelectorAll('dialog')) if (dialog.open) dialog.close()
  setMessage(byId('login-error'), 'error', reason)
  showView('login-view')
}

// ---- today's deliveries ---------------------------------------------------------------------------

const statusWords = { out_for_delivery: 'To deliver', paid: 'Paid', refused: 'Refused' }
const paidByWords = { qr: 'by QR code', cash: 'in cash', cpm: "by the shopper's code" }
const paidByShortWords = { qr: 'QR', cash: 'cash', cpm: 'app code' }

function badgeWords(delivery) {
  const words = statusWords[delivery.status] ?? delivery.status
  const how = delivery.status === 'paid' ? paidByShortWords[delivery.paid_by] : undefined
  return how === undefined ? words : `${words} · ${how}`
}

async function loadDeliveries() {
  const box = byId('list-message')
  try {
    const list = await courierApi('/deliveries')
    state.deliveries = list.data
    setMessage(box, 'error', '')
    renderDeliveries()
    // A payment the live stream did not bring (it was down) still turns the open parcel to PAID.
    const open = state.openId === null ? undefined : findDelivery(state.openId)
    if (open !== undefined && open.status !== 'out_for_delivery' && byId('door').dataset.state !== 'paid') renderParcel(open)
  } catch (error) {
    if (state.token !== null) setMessage(box, 'error', messageOf(error), 'Could not load your deliveries.')
  }
}

function renderDeliveries() {
  const list = byId('deliveries')
  if (state.deliveries.length === 0) {
    list.replaceChildren(h('li', { class: 'empty' }, 'No deliveries for you today.'))
    return
  }
  list.replaceChildren(
    ...state.deliveries.map((delivery) =>
      h(
        'li',
        { 'data-testid': 'delivery', 'data-delivery-id': delivery.id, 'data-parcel-number': delivery.parcel_number, 'data-status': delivery.status },
        h(
          'button',
          { type: 'button', class: 'delivery-button', onclick: () => openParcel(delivery.id) },
          h('span', { class: 'delivery-parcel' }, delivery.parcel_number),
          h('span', { class: 'delivery-amount', 'data-testid': 'delivery-amount' }, money(delivery.currency, delivery.amount_display)),
          h('span', { class: 'delivery-meta' }, delivery.merchant_name, delivery.shopper_phone ? ` · ${delivery.shopper_phone}` : ''),
          h(
            'span',
            { class: 'delivery-status' },
            h('span', { class: 'badge', 'data-status': delivery.status, 'data-testid': 'delivery-status' }, badgeWords(delivery)),
          ),
        ),
      ),
    ),
  )
}

byId('refresh-button').addEventListener('click', (event) =>
  whileBusy(event.currentTarget, async () => {
    await Promise.all([loadDeliveries(), loadCash()])
  }),
)

async function loadCash() {
  try {
    const cash = await courierApi('/cash')
    byId('cash-collected').textContent = money(cash.currency, cash.collected_display)
    byId('cash-outstanding').textContent = money(cash.currency, cash.outstanding_display)
  } catch (error) {
    if (state.token !== null) byId('cash-collected').textContent = 'unavailable'
    if (state.token !== null) setMessage(byId('list-message'), 'error', messageOf(error), 'Could not load your cash summary.')
  }
}

// ---- live status (Server-Sent Events) ---------------------------------------------------------------

function setLive(liveState) {
  state.liveState = liveState
  for (const badge of [byId('live-status'), byId('parcel-live')]) {
    badge.dataset.state = liveState
    badge.textContent = liveState === 'live' ? 'live' : liveState === 'connecting' ? 'connecting' : 'offline'
    badge.title =
      liveState === 'live' ? 'Payments show here the moment they happen.' : 'Live updates are down; the page checks every few seconds instead.'
  }
  // While the stream is down, poll, so PAID still shows (a few seconds later).
  if (liveState === 'live') {
    clearInterval(state.pollTimer)
    state.pollTimer = 0
  } else if (state.pollTimer === 0 && state.token !== null) {
    state.pollTimer = setInterval(() => void loadDeliveries(), pollWhileOfflineMs)
  }
}

function connectLive() {
  state.events?.close()
  clearTimeout(state.reconnectTimer)
  if (state.token === null) return
  setLive('connecting')
  // EventSource cannot send headers: this one endpoint takes the token in the query.
  const source = new EventSource(`/courier/v1/events?token=${encodeURIComponent(state.token)}`)
  state.events = source
  let missedSome = false
  source.addEventListener('ready', () => {
    const wasDown = state.liveState !== 'live'
    setLive('live')
    // Payments made while the stream was down arrive by reloading the list.
    if (wasDown && missedSome) void loadDeliveries()
  })
  source.addEventListener('delivery.paid', (event) => onDeliveryPaid(readJson(event.data)))
  source.addEventListener('delivery.code', (event) => void onDeliveryCode(readJson(event.data)))
  source.addEventListener('error', () => {
    if (state.events !== source) return
    missedSome = true
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (an expired token answers 401): check the session, then retry.
      setLive('off')
      state.reconnectTimer = setTimeout(async () => {
        try {
          await courierApi('/deliveries')
          connectLive()
        } catch {
          if (state.token !== null) state.reconnectTimer = setTimeout(connectLive, pollWhileOfflineMs)
        }
      }, 2_000)
    } else {
      setLive('connecting') // the browser reconnects by itself
    }
  })
}

/** `{"delivery":"dlv_…","status":"paid","paid_by":"qr","amount":…}` from the stream. */
function onDeliveryPaid(event) {
  if (event === null || typeof event.delivery !== 'string') return
  const known = findDelivery(event.delivery)
  if (known !== undefined) {
    const updated = { ...known, status: event.status ?? 'paid', paid_by: event.paid_by ?? known.paid_by }
    putDelivery(updated)
    if (state.openId === updated.id) renderParcel(updated)
  }
  navigator.vibrate?.(200)
  // The authoritative record (amounts, codes) and today's cash follow.
  void loadDeliveries()
  void loadCash()
}

/** `{"delivery":"dlv_…","status":"code_paying"|"code_payable"}`: a bank payment of the parcel's code started, or ended unpaid. */
async function onDeliveryCode(event) {
  if (event === null || typeof event.delivery !== 'string') return
  await loadDeliveries()
  const open = state.openId === event.delivery ? findDelivery(event.delivery) : undefined
  if (open !== undefined && open.status === 'out_for_delivery') renderParcel(open)
}

// ---- one parcel at the door -----------------------------------------------------------------------

function openParcel(id) {
  const delivery = findDelivery(id)
  if (delivery === undefined) return
  state.openId = id
  setMessage(byId('parcel-message'), 'error', '')
  showView('parcel-view')
  renderParcel(delivery, { issueIfNeeded: true })
}

function closeParcel() {
  state.stopCountdown()
  state.stopCountdown = () => {}
  state.openId = null
  stopScanner()
}

byId('back-button').addEventListener('click', backToList)
byId('done-button').addEventListener('click', backToList)

function backToList() {
  closeParcel()
  showView('list-view')
  renderDeliveries()
}

function setDoor(doorState) {
  byId('door').dataset.state = doorState
}

function setStatus(kind, text) {
  const status = byId('parcel-status')
  status.dataset.status = kind
  status.textContent = text
}

/** Shows the parcel as it stands: PAID, refused, or its payment code (making one when it has none usable). */
function renderParcel(delivery, { issueIfNeeded = false } = {}) {
  byId('parcel-title').textContent = `${delivery.merchant_name} · ${delivery.shopper_phone ?? ''}`
  byId('parcel-number').textContent = `Parcel ${delivery.parcel_number}`
  byId('parcel-amount').textContent = money(delivery.currency, delivery.amount_display)
  if (delivery.status === 'paid') return showPaid(delivery)
  if (delivery.status === 'refused') return showRefused(delivery)
  byId('paid-banner').hidden = true
  byId('door-actions').hidden = false
  byId('done-button').hidden = true
  const code = delivery.code
  // The shopper is paying this code through their bank: keep it (a new code would undo that payment).
  if (code?.status === 'paying') {
    showCode(code)
    // The bank's payment ends by itself (paid, or the code is payable again): no expiry to count down to.
    state.stopCountdown()
    byId('qr-countdown').textContent = ''
    return setStatus('waiting', 'The shopper is paying through their bank…')
  }
  const usable = code !== null && code !== undefined && code.status === 'payable' && Date.parse(code.expires_at) - serverNow() > codeFreshnessMarginMs
  if (usable) return showCode(code)
  if (issueIfNeeded) return void issueCode(delivery.id)
  if (code !== null && code !== undefined) return showCode(code)
}

/** What the door shows, by status, for a code that can no longer be paid: the server sends no picture of it. */
const spentCodes = {
  expired: { label: 'Expired', words: 'This code has expired. Tap “New code”.' },
  replaced: { label: 'Replaced', words: 'This code was replaced. Tap “New code”.' },
}

function showCode(code) {
  state.stopCountdown()
  const image = byId('qr-image')
  byId('qr-box').hidden = false
  if (code.image === null) {
    state.stopCountdown = () => {}
    image.hidden = true
    image.removeAttribute('src')
    delete image.dataset.reference
    const spent = spentCodes[code.status] ?? spentCodes.expired
    const placeholder = byId('qr-placeholder')
    placeholder.textContent = spent.label
    placeholder.hidden = false
    byId('paid-banner').hidden = true
    byId('parcel-amount').textContent = money(code.currency, code.amount_display)
    byId('qr-countdown').textContent = ''
    setDoor('expired')
    setStatus('expired', spent.words)
    return
  }
  image.src = code.image
  image.hidden = false
  image.dataset.reference = code.reference
  byId('qr-placeholder').hidden = true
  byId('paid-banner').hidden = true
  byId('parcel-amount').textContent = money(code.currency, code.amount_display)
  setDoor('active')
  setStatus('waiting', 'Waiting for the shopper to pay…')
  state.stopCountdown = startCountdown(byId('qr-countdown'), code.expires_at, () => {
    if (byId('door').dataset.state !== 'active') return
    setDoor('expired')
    setStatus('expired', 'This code has expired. Tap “New code”.')
  })
}

async function issueCode(deliveryId) {
  state.stopCountdown()
  setDoor('replacing')
  byId('qr-box').hidden = false
  byId('qr-placeholder').textContent = 'Making the code…'
  byId('qr-placeholder').hidden = byId('qr-image').hidden === false
  byId('qr-countdown').textContent = ''
  setStatus('loading', 'Making a new code…')
  try {
    const code = await courierApi(`/deliveries/${encodeURIComponent(deliveryId)}/code`, { method: 'POST', idempotencyKey: newIdempotencyKey('code') })
    if (state.openId !== deliveryId) return
    const delivery = findDelivery(deliveryId)
    if (delivery !== undefined) state.deliveries[state.deliveries.indexOf(delivery)] = { ...delivery, code }
    setMessage(byId('parcel-message'), 'error', '')
    showCode(code)
  } catch (error) {
    if (state.openId !== deliveryId) return
    setDoor('expired')
    setStatus('error', '')
    setMessage(byId('parcel-message'), 'error', messageOf(error), 'Could not make a code.')
    void loadDeliveries()
  }
}

byId('new-code-button').addEventListener('click', (event) => {
  if (state.openId === null) return
  const id = state.openId
  void whileBusy(event.currentTarget, () => issueCode(id))
})

function showPaid(delivery) {
  state.stopCountdown()
  state.stopCountdown = () => {}
  stopScanner()
  for (const dialog of document.querySelectorAll('dialog')) if (dialog.open) dialog.close()
  setDoor('paid')
  byId('qr-box').hidden = true
  byId('qr-image').hidden = true
  byId('qr-placeholder').hidden = true
  byId('qr-countdown').textContent = ''
  byId('paid-banner').hidden = false
  byId('paid-banner').querySelector('.paid-word').textContent = 'PAID'
  byId('paid-how').textContent = `${money(delivery.currency, delivery.amount_display)} ${paidByWords[delivery.paid_by] ?? ''}`.trim()
  setStatus('paid', 'Paid. Hand over the parcel.')
  setMessage(byId('parcel-message'), 'error', '')
  byId('door-actions').hidden = true
  byId('done-button').hidden = false
}

function showRefused(delivery) {
  state.stopCountdown()
  setDoor('refused')
  byId('qr-box').hidden = true
  byId('qr-image').hidden = true
  byId('qr-placeholder').hidden = true
  byId('qr-countdown').textContent = ''
  byId('paid-banner').hidden = false
  byId('paid-banner').querySelector('.paid-word').textContent = 'REFUSED'
  byId('paid-how').textContent = `Parcel ${delivery.parcel_number}`
  setStatus('refused', 'The shopper refused this parcel.')
  byId('door-actions').hidden = true
  byId('done-button').hidden = false
}

/** Shows a failure of an action on the open parcel; if the parcel changed meanwhile (paid), shows that. */
function parcelActionFailed(box, error, headline) {
  setMessage(box, 'error', messageOf(error), headline)
  void loadDeliveries()
}

// ---- change amount (the shopper refused an item) ---------------------------------------------------

const amountDialog = byId('amount-dialog')

function openDelivery() {
  return state.openId === null ? undefined : findDelivery(state.openId)
}

byId('change-amount-button').addEventListener('click', () => {
  const delivery = openDelivery()
  if (delivery === undefined) return
  const exponent = exponentOfDisplay(delivery.amount_display)
  byId('amount-now').textContent = `Now ${money(delivery.currency, delivery.amount_display)}. Enter the lower amount for what the shopper keeps; the old code stops working.`
  byId('amount-label').textContent = `New amount (${delivery.currency})`
  const input = byId('amount-input')
  input.value = ''
  input.placeholder = exponent === 0 ? '0' : `0.${'0'.repeat(exponent)}`
  byId('amount-preview').textContent = ''
  setMessage(byId('amount-error'), 'error', '')
  amountDialog.showModal()
  input.focus()
})

byId('amount-input').addEventListener('input', () => {
  const delivery = openDelivery()
  if (delivery === undefined) return
  const exponent = exponentOfDisplay(delivery.amount_display)
  const parsed = parseMajorUnits(byId('amount-input').value, exponent)
  setMessage(byId('amount-error'), 'error', '')
  byId('amount-preview').textContent = parsed.ok ? `New amount: ${money(delivery.currency, formatMinorUnits(parsed.minor, exponent))}` : ''
})

byId('amount-cancel').addEventListener('click', () => amountDialog.close())

byId('amount-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const delivery = openDelivery()
  if (delivery === undefined) return
  const errorBox = byId('amount-error')
  const exponent = exponentOfDisplay(delivery.amount_display)
  const parsed = parseMajorUnits(byId('amount-input').value, exponent)
  if (!parsed.ok) return setMessage(errorBox, 'error', parsed.message)
  if (parsed.minor <= 0n) return setMessage(errorBox, 'error', 'The new amount must be more than zero.')
  if (parsed.minor >= BigInt(delivery.amount)) {
    return setMessage(errorBox, 'error', `The new amount must be lower than ${money(delivery.currency, delivery.amount_display)}: it is what the shopper keeps after refusing an item.`)
  }
  void whileBusy(byId('amount-submit'), async () => {
    try {
      const updated = await courierApi(`/deliveries/${encodeURIComponent(delivery.id)}/amount`, {
        method: 'POST',
        body: { amount: minorUnitsForJson(parsed.minor) },
        idempotencyKey: newIdempotencyKey('amount'),
      })
      amountDialog.close()
      putDelivery(updated)
      if (state.openId === updated.id) renderParcel(updated, { issueIfNeeded: true })
    } catch (error) {
      parcelActionFailed(errorBox, error, 'The amount was not changed.')
    }
  })
})

// ---- cash ---------------------------------------------------------------------------------------------

const cashDialog = byId('cash-dialog')

byId('cash-button').addEventListener('click', () => {
  const delivery = openDelivery()
  if (delivery === undefined) return
  byId('cash-amount').textContent = money(delivery.currency, delivery.amount_display)
  byId('cash-parcel').textContent = delivery.parcel_number
  setMessage(byId('cash-error'), 'error', '')
  cashDialog.showModal()
})

byId('cash-cancel').addEventListener('click', () => cashDialog.close())

byId('cash-submit').addEventListener('click', (event) => {
  const delivery = openDelivery()
  if (delivery === undefined) return
  void whileBusy(event.currentTarget, async () => {
    try {
      const updated = await courierApi(`/deliveries/${encodeURIComponent(delivery.id)}/cash`, {
        method: 'POST',
        body: { amount: delivery.amount },
        idempotencyKey: newIdempotencyKey('cash'),
      })
      cashDialog.close()
      putDelivery(updated)
      if (state.openId === updated.id) renderParcel(updated)
      void loadCash()
    } catch (error) {
      parcelActionFailed(byId('cash-error'), error, 'Cash not recorded.')
    }
  })
})

// ---- scan the shopper's code (consumer-presented) ---------------------------------------------------

const scanDialog = byId('scan-dialog')

function stopScanner() {
  state.scanner?.stop()
  state.scanner = null
  byId('scan-video').hidden = true
  byId('scan-camera-button').hidden = false
}

byId('scan-button').addEventListener('click', () => {
  byId('scan-paste').value = ''
  byId('scan-status').textContent = ''
  setMessage(byId('scan-error'), 'error', '')
  scanDialog.showModal()
})

scanDialog.addEventListener('close', stopScanner)
byId('scan-cancel').addEventListener('click', () => scanDialog.close())

byId('scan-camera-button').addEventListener('click', (event) =>
  whileBusy(event.currentTarget, async () => {
    const video = byId('scan-video')
    setMessage(byId('scan-error'), 'error', '')
    byId('scan-status').textContent = 'Starting the camera…'
    const scanner = new CameraScanner(video, (payload) => {
      byId('scan-paste').value = payload
      byId('scan-status').textContent = 'Code read.'
      stopScanner()
      byId('scan-submit').click()
    })
    try {
      video.hidden = false
      state.scanner = scanner
      await scanner.start()
      byId('scan-camera-button').hidden = true
      byId('scan-status').textContent = "Point the camera at the code on the shopper's phone."
    } catch (error) {
      stopScanner()
      byId('scan-status').textContent = ''
      setMessage(byId('scan-error'), 'error', messageOf(error))
    }
  }),
)

byId('scan-submit').addEventListener('click', (event) => {
  const delivery = openDelivery()
  if (delivery === undefined) return
  const payload = byId('scan-paste').value.trim()
  if (payload === '') return setMessage(byId('scan-error'), 'error', "Scan the shopper's code or paste its text first.")
  void whileBusy(event.currentTarget, async () => {
    try {
      const updated = await courierApi(`/deliveries/${encodeURIComponent(delivery.id)}/collect`, {
        method: 'POST',
        body: { payload },
        idempotencyKey: newIdempotencyKey('collect'),
      })
      scanDialog.close()
      putDelivery(updated)
      if (state.openId === updated.id) renderParcel(updated)
    } catch (error) {
      parcelActionFailed(byId('scan-error'), error, 'Payment not collected.')
    }
  })
})

fitQrPicture(byId('qr-image'), byId('qr-box'))

// ---- start ---------------------------------------------------------------------------------------------

if (state.token !== null) enterApp()
else showView('login-view')
