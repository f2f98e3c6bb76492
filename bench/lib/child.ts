import { fork, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'

/** Every child this process started and has not yet seen exit; killed on any way out. */
const living = new Set<ChildProcess>()

/** Kills every child still running (SIGKILL: a benchmark server holds nothing worth a clean stop). */
export function killChildren(): void {
  for (const child of living) child.kill('SIGKILL')
  living.clear()
}
process.on('exit', killChildren)

export type Forked<Message> = {
  readonly child: ChildProcess
  /**
   * The next message whose type is one of `types` (separated by |); rejects if the child sends
   * `failure`, exits first, or takes longer than `timeoutMs`.
   */
  next<T extends Message>(types: string, timeoutMs: number): Promise<T>
  send(message: unknown): void
  /** Resolves when the child has exited, killing it after `timeoutMs`. */
  exited(timeoutMs: number): Promise<number | null>
}

/**
 * Forks `modulePath` with `env` added to this process's environment and collects its IPC
 * messages. The child's output is passed through: a server logs errors only, and they must be seen.
 */
export function forkChild<Message extends { type: string }>(
  modulePath: string,
  options: { env?: Record<string, string>; execArgv?: string[]; args?: string[] } = {},
): Forked<Message> {
  const child = fork(modulePath, options.args ?? [], {
    env: { ...process.env, ...options.env },
    execArgv: options.execArgv ?? [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  living.add(child)
  const inbox: Message[] = []
  const waiters = new Set<() => void>()
  let exitCode: number | null | undefined
  const wake = () => {
    for (const waiter of waiters) waiter()
  }
  child.on('message', (message: Message) => {
    inbox.push(message)
    wake()
  })
  child.on('exit', (code, signal) => {
    living.delete(child)
    exitCode = code ?? (signal === null ? null : -1)
    wake()
  })
  child.on('error', () => wake())

  return {
    child,
    next<T extends Message>(types: string, timeoutMs: number): Promise<T> {
      const wanted = new Set(types.split('|'))
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const failure = inbox.find((message) => message.type === 'failure') as (Message & { message?: string }) | undefined
          const index = inbox.findIndex((message) => wanted.has(message.type))
          if (index >= 0) {
            done()
            resolve(inbox.splice(index, 1)[0] as T)
          } else if (failure !== undefined) {
            done()
            reject(new Error(`child ${modulePath} failed: ${failure.message ?? 'no message'}`))
          } else if (exitCode !== undefined) {
            done()
            reject(new Error(`child ${modulePath} exited (code ${exitCode}) before sending "${types}"`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`child ${modulePath} sent no "${types}" within ${timeoutMs} ms`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    send(message: unknown) {
      if (child.connected) child.send(message as never)
    },
    exited(timeoutMs: number): Promise<number | null> {
      if (exitCode !== undefined) return Promise.resolve(exitCode)
      return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
        child.once('exit', (code) => {
          clearTimeout(timer)
          resolve(code)
        })
      })
    },
  }
}

/** Removes a directory a child may have left behind if it was killed. */
export function removeDirectory(path: string | undefined): void {
  if (path !== undefined) rmSync(path, { recursive: true, force: true })
}
