// Shared by the courier's handheld page and the shopper's app page: calling Kassa's JSON API,
// amounts typed by a person (string arithmetic, never floats), QR reading with jsQR (camera and
// pictures), countdowns, and small DOM helpers. Plain browser JavaScript, no build step.

/** A failure to show a person: Kassa's own `error` object, or a stand-in for a network failure. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when Kassa could not be reached
   * @param {{type?: string, code?: string, message: string, param?: string | null}} error
   */
  constructor(status, error) {
    super(error.message)
    this.name = 'ApiError'
    this.status = status
    this.type = error.type ?? 'api_error'
    this.code = error.code ?? `http_${status}`
    this.param = error.param ?? null
  }
}

const requestTimeoutMs = 15_000

/** Server time minus this device's time, when they differ by more than the `Date` header's one-second grain. */
let serverClockOffsetMs = 0

/** Now, by Kassa's clock as far as this page can tell: expiry countdowns compare against the server's `expires_at`. */
export function serverNow() {
  return Date.now() + serverClockOffsetMs
}

function noteServerDate(response) {
  const header = response.headers.get('date')
  if (header === null) return
  const serverMs = Date.parse(header)
  if (Number.isNaN(serverMs)) return
  const offset = serverMs + 500 - Date.now()
  serverClockOffsetMs = Math.abs(offset) > 2_000 ? offset : 0
}

/**
 * Calls Kassa and returns the parsed JSON body; throws an ApiError carrying Kassa's message on any
 * 4xx/5xx, and a readable one when the network fails or Kassa does not answer in time.
 *
 * @param {string} path e.g. '/courier/v1/deliveries'
 * @param {{method?: string, token?: string | null, body?: unknown, idempotencyKey?: string}} [options]
 */
export async function callApi(path, options = {}) {
  const headers = { accept: 'application/json' }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey
  let body
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), requestTimeoutMs)
  let response
  try {
    response = await fetch(path, { method: options.method ?? 'GET', headers, body, signal: controller.signal, cache: 'no-store' })
  } catch {
    throw new ApiError(0, {
      type: 'network_error',
      code: controller.signal.aborted ? 'timeout' : 'network_error',
      message: controller.signal.aborted
        ? `Kassa did not answer within ${requestTimeoutMs / 1000} seconds. Check the connection and try again.`
        : 'Cannot reach Kassa. Check the connection and try again.',
    })
  } finally {
    clearTimeout(timer)
  }
  noteServerDate(response)
  const text = await response.text()
  let json
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!response.ok) {
    const error = json !== undefined && json !== null && typeof json === 'object' ? json.error : undefined
    if (error !== undefined && error !== null && typeof error.message === 'string') throw new ApiError(response.status, error)
    throw new ApiError(response.status, { type: 'api_error', code: `http_${response.status}`, message: `Kassa answered ${response.status} ${response.statusText}.`.replace(' .', '.') })
  }
  if (json === undefined) {
    throw new ApiError(response.status, { type: 'api_error', code: 'response_unreadable', message: 'Kassa sent an answer this page cannot read.' })
  }
  return json
}

/**
 * An Idempotency-Key for one action (one tap), reused if the same action is retried. Made with
 * getRandomValues, which (unlike randomUUID) also works on a handheld reaching Kassa over plain HTTP.
 */
export function newIdempotencyKey(prefix) {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

// ---- Amounts: integer minor units, by string arithmetic ------------------------------------

/** The largest minor-unit amount Kassa accepts (docs/errors.md, amount_invalid). */
const amountMinorMax = 999_999_999_999n

/** The currency's minor-unit exponent, read off Kassa's own display of an amount: "199.00" → 2, "1990" → 0. */
export function exponentOfDisplay(amountDisplay) {
  const dot = amountDisplay.indexOf('.')
  return dot < 0 ? 0 : amountDisplay.length - dot - 1
}

/**
 * Turns an amount typed in major units into minor units, exactly: "149.5" with exponent 2 → 14950n.
 * Digits are joined as text and converted once to a bigint; no floating point is involved.
 *
 * @returns {{ok: true, minor: bigint} | {ok: false, message: string}}
 */
export function parseMajorUnits(text, exponent) {
  const trimmed = text.trim().replace(/\s+/g, '')
  if (trimmed === '') return { ok: false, message: 'Enter an amount.' }
  const match = /^(\d*)(?:[.,](\d*))?$/.exec(trimmed)
  if (match === null || (match[1] === '' && (match[2] ?? '') === '')) {
    return { ok: false, message: `“${text.trim()}” is not an amount: use digits${exponent > 0 ? ' and one decimal point, like 149.50' : ', like 1490'}.` }
  }
  const whole = match[1] === '' ? '0' : match[1]
  const fraction = match[2] ?? ''
  if (fraction.length > exponent) {
    return { ok: false, message: exponent === 0 ? 'This currency has no decimals: enter a whole amount.' : `At most ${exponent} decimal${exponent === 1 ? '' : 's'}.` }
  }
  if (whole.replace(/^0+/, '').length > 13) return { ok: false, message: 'This amount is too large.' }
  const minor = BigInt(whole + fraction.padEnd(exponent, '0'))
  if (minor > amountMinorMax) return { ok: false, message: 'This amount is too large.' }
  return { ok: true, minor }
}

/** 14950n, exponent 2 → "149.50"; the page's own echo of a typed amount (Kassa's `amount_display` is shown otherwise). */
export function formatMinorUnits(minor, exponent) {
  const negative = minor < 0n
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0')
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent)
  // No digit grouping: the same form as Kassa's own `amount_display`.
  return `${negative ? '-' : ''}${whole}${exponent === 0 ? '' : `.${digits.slice(-exponent)}`}`
}

/** JSON has no bigint: a minor-unit amount goes out as an integer number, checked to be exact. */
export function minorUnitsForJson(minor) {
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < 0n) throw new RangeError('amount out of range')
  return Number(minor)
}

export function money(currency, amountDisplay) {
  return `${currency} ${amountDisplay}`
}

// ---- QR reading ------------------------------------------------------------------------------

let jsQrLoading

/** Loads /assets/jsQR.js (the installed jsqr package, served by Kassa) once, when first needed. */
export function loadJsQr() {
  if (typeof window.jsQR === 'function') return Promise.resolve(window.jsQR)
  jsQrLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = '/assets/jsQR.js'
    script.onload = () => (typeof window.jsQR === 'function' ? resolve(window.jsQR) : reject(new Error('The QR reader did not start.')))
    script.onerror = () => {
      jsQrLoading = undefined
      script.remove()
      reject(new Error('Could not load the QR reader from Kassa. Check the connection and try again.'))
    }
    document.head.append(script)
  })
  return jsQrLoading
}

/**
 * Reads a QR code from a picture file (a photo or a screenshot of the code). Tries the picture at
 * a few sizes: jsQR is slow on very large photos and a code can be missed at one scale and found at
 * another. Returns the code's text, or null when no code is found.
 */
export async function decodeQrFromFile(file) {
  const jsQR = await loadJsQr()
  let bitmap
  try {
    bitmap = await createImageBitmap(file)
  } catch {
    throw new Error('This file is not a picture this browser can open.')
  }
  try {
    const longest = Math.max(bitmap.width, bitmap.height)
    const sides = [1600, 1000, 600].filter((side, index) => index === 0 || side < longest)
    const canvas = document.createElement('canvas')
    const context = canvas.getContext('2d', { willReadFrequently: true })
    for (const side of sides) {
      const scale = Math.min(1, side / longest)
      canvas.width = Math.max(1, Math.round(bitmap.width * scale))
      canvas.height = Math.max(1, Math.round(bitmap.height * scale))
      context.fillStyle = '#fff'
      context.fillRect(0, 0, canvas.width, canvas.height)
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height)
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height)
      const code = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: 'attemptBoth' })
      if (code !== null && code.data !== '') return code.data
    }
    return null
  } finally {
    bitmap.close()
  }
}

/** Why the camera cannot be used here, in words for the person holding the device. */
function cameraProblem(error) {
  const name = error !== null && typeof error === 'object' ? error.name : ''
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'The camera is not allowed for this page. Allow it in the browser settings, or use the other ways below.'
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera was found on this device. Use the other ways below.'
  if (name === 'NotReadableError' || name === 'AbortError') return 'The camera is busy in another app. Close it and try again.'
  return `The camera could not start${error instanceof Error && error.message ? ` (${error.message})` : ''}.`
}

/**
 * Scans QR codes from the device camera into a <video>, calling onCode once with the first code
 * read, then stopping the camera. Frames are sampled at most every scanIntervalMs and scaled down
 * so a slow handheld stays responsive.
 */
export class CameraScanner {
  static scanIntervalMs = 150
  static frameSideMax = 720

  constructor(video, onCode) {
    this.video = video
    this.onCode = onCode
    this.stream = null
    this.frame = 0
    this.lastScanMs = 0
    this.canvas = document.createElement('canvas')
    this.context = this.canvas.getContext('2d', { willReadFrequently: true })
  }

  get running() {
    return this.stream !== null
  }

  /** Starts the camera; throws an Error with a message for a person when it cannot. */
  async start() {
    if (navigator.mediaDevices === undefined || typeof navigator.mediaDevices.getUserMedia !== 'function') {
      throw new Error(
        window.isSecureContext
          ? 'This browser cannot use a camera. Use the other ways below.'
          : 'The camera works only when Kassa is opened over HTTPS (or on this computer). Use the other ways below.',
      )
    }
    const jsQR = await loadJsQr()
    let stream
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false })
    } catch (error) {
      throw new Error(cameraProblem(error))
    }
    this.stream = stream
    this.video.srcObject = stream
    this.video.setAttribute('playsinline', '')
    this.video.muted = true
    try {
      await this.video.play()
    } catch (error) {
      this.stop()
      throw new Error(cameraProblem(error))
    }
    const tick = (nowMs) => {
      if (this.stream === null) return
      this.frame = requestAnimationFrame(tick)
      if (nowMs - this.lastScanMs < CameraScanner.scanIntervalMs) return
      this.lastScanMs = nowMs
      const { videoWidth: width, videoHeight: height } = this.video
      if (width === 0 || height === 0) return
      const scale = Math.min(1, CameraScanner.frameSideMax / Math.max(width, height))
      this.canvas.width = Math.round(width * scale)
      this.canvas.height = Math.round(height * scale)
      this.context.drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height)
      const pixels = this.context.getImageData(0, 0, this.canvas.width, this.canvas.height)
      const code = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: 'dontInvert' })
      if (code !== null && code.data !== '') {
        this.stop()
        this.onCode(code.data)
      }
    }
    this.frame = requestAnimationFrame(tick)
  }

  stop() {
    cancelAnimationFrame(this.frame)
    if (this.stream !== null) for (const track of this.stream.getTracks()) track.stop()
    this.stream = null
    this.video.srcObject = null
  }
}

/**
 * Sizes a QR picture to fill its box with every module the same size: a small picture is enlarged
 * by a whole multiple with hard edges; a large one is shrunk smoothly (hard-edged shrinking by an
 * uneven factor makes some modules a pixel narrower than others, which slows scanners down).
 */
export function fitQrPicture(image, box) {
  const fit = () => {
    const natural = image.naturalWidth
    const room = Math.floor(Math.min(box.clientWidth, box.clientHeight))
    if (natural === 0 || room === 0) return
    const multiple = Math.floor(room / natural)
    const side = multiple >= 1 ? natural * multiple : room
    image.style.width = `${side}px`
    image.style.height = `${side}px`
    image.style.imageRendering = multiple >= 1 ? 'pixelated' : 'auto'
  }
  if (image.complete) fit()
  image.addEventListener('load', fit)
  window.addEventListener('resize', fit)
}

// ---- Time --------------------------------------------------------------------------------------

/** "14:59" for a duration; "0:00" once it is over. */
export function formatRemaining(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  const minutes = Math.floor(seconds / 60)
  return `${minutes}:${String(seconds % 60).padStart(2, '0')}`
}

/**
 * Shows "Expires in m:ss" in element until expiresAt, then calls onExpired once.
 * Returns a function that stops the countdown.
 */
export function startCountdown(element, expiresAt, onExpired) {
  const expiresMs = Date.parse(expiresAt)
  let done = false
  const update = () => {
    const remaining = expiresMs - serverNow()
    if (remaining <= 0) {
      element.textContent = 'Expired'
      element.dataset.expired = 'true'
      if (!done) {
        done = true
        clearInterval(timer)
        onExpired()
      }
      return
    }
    element.dataset.expired = 'false'
    element.textContent = `Expires in ${formatRemaining(remaining)}`
  }
  const timer = setInterval(update, 250)
  update()
  return () => {
    done = true
    clearInterval(timer)
  }
}

export function formatTime(iso) {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

// ---- DOM -----------------------------------------------------------------------------------------

export function byId(id) {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`The page has no #${id}`)
  return element
}

/** Builds an element; children are nodes or text (always set as text, never parsed as HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'class') element.className = String(value)
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    element.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return element
}

/** Shows exactly one of the page's views (elements with class "view"). */
export function showView(id) {
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== id
  document.body.dataset.view = id
}

/**
 * Puts a message in a message element: kind is 'error', 'info' or 'success'; an empty text hides it.
 * A headline in our words may precede Kassa's own message.
 */
export function setMessage(element, kind, text, headline) {
  element.replaceChildren()
  if (text === '' && headline === undefined) {
    element.hidden = true
    delete element.dataset.kind
    return
  }
  element.hidden = false
  element.dataset.kind = kind
  if (headline !== undefined) element.append(h('strong', {}, headline), text === '' ? '' : ' ')
  element.append(text)
}

/** The message of anything thrown, for a person. */
export function messageOf(error) {
  if (error instanceof Error && error.message !== '') return error.message
  return 'Something went wrong. Try again.'
}

/** Disables a button while an action runs, so one tap is one request. */
export async function whileBusy(button, action) {
  if (button.disabled) return
  button.disabled = true
  button.setAttribute('aria-busy', 'true')
  try {
    await action()
  } finally {
    button.disabled = false
    button.removeAttribute('aria-busy')
  }
}
