import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { Command, CommanderError } from 'commander'
import { registerIso8583Commands, type Iso8583CliIo } from '../../src/cli/iso8583.js'

type Run = { stdout: string; stderr: string; exitCode: number }

/** Runs the commands in-process, with stdin given and stdout, stderr and the exit code recorded. */
async function runInProcess(args: string[], stdin = ''): Promise<Run> {
  const run: Run = { stdout: '', stderr: '', exitCode: 0 }
  const io: Iso8583CliIo = {
    writeOut: (text) => {
      run.stdout += text
    },
    writeErr: (text) => {
      run.stderr += text
    },
    readStdin: () => Promise.resolve(stdin),
    setExitCode: (code) => {
      run.exitCode = code
    },
  }
  // exitOverride and configureOutput are copied to subcommands when they are created, so they come first.
  const program = new Command('kassa')
    .exitOverride()
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr })
  registerIso8583Commands(program, io)
  try {
    await program.parseAsync(args, { from: 'user' })
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    run.exitCode = error.exitCode
  }
  return run
}

/** Runs the commands in a real node process, to check the process's own exit code and streams. */
function runInProcessOfItsOwn(args: string[], stdin = ''): Run {
  const script = [
    `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))}`,
    `import { registerIso8583Commands } from ${JSON.stringify(new URL('../../src/cli/iso8583.js', import.meta.url).href)}`,
    `const program = new Command('kassa')`,
    `registerIso8583Commands(program)`,
    `await program.parseAsync(process.argv.slice(1), { from: 'user' })`,
  ].join('\n')
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { input: stdin, encoding: 'utf8', timeout: 20_000 })
  return { stdout: child.stdout, stderr: child.stderr, exitCode: child.status ?? -1 }
}

const hexOf = (text: string): string => Buffer.from(text, 'latin1').toString('hex')

// moov-io/iso8583 README: a 0100 with a PAN in field 2.
const authorizationHex = hexOf('01007000000000000000164242424242424242123456000000000100')

describe('kassa iso8583 decode', () => {
  it('prints the message as one line of JSON, with the PAN masked', async () => {
    const run = await runInProcess(['iso8583', 'decode', authorizationHex])
    assert.deepEqual(run, {
      stdout: '{"mti":"0100","fields":{"2":"424242******4242","3":"123456","4":"000000000100"}}\n',
      stderr: '',
      exitCode: 0,
    })
  })

  it('shows the PAN with --show-pan', async () => {
    const run = await runInProcess(['iso8583', 'decode', '--show-pan', authorizationHex])
    assert.equal(run.stdout, '{"mti":"0100","fields":{"2":"4242424242424242","3":"123456","4":"000000000100"}}\n')
  })

  it('masks the PAN and discretionary data in track 2, and track 1 whole', async () => {
    const message = '0200' + '0000000020080000' + '344761739001010119D22122011758928889' + '18B4761739001010119^'
    const run = await runInProcess(['iso8583', 'decode', hexOf(message)])
    assert.equal(run.stdout, '{"mti":"0200","fields":{"35":"476173******0119D2212201**********","45":"******************"}}\n')
  })

  it('prints binary fields as upper-case hex and reads the other encodings', async () => {
    const binary = '0200' + '0000000000001000' + '0123456789abcdef'
    const run = await runInProcess(['iso8583', 'decode', '--encoding', 'binary', binary])
    assert.deepEqual(run, { stdout: '{"mti":"0200","fields":{"52":"0123456789ABCDEF"}}\n', stderr: '', exitCode: 0 })
    const asciiBinaryBitmap = hexOf('0210') + '0000000002000000' + hexOf('00')
    assert.equal((await runInProcess(['iso8583', 'decode', '--encoding', 'ascii-binary-bitmap', asciiBinaryBitmap])).stdout, '{"mti":"0210","fields":{"39":"00"}}\n')
  })

  it('accepts hex with spaces, as dumps are pasted', async () => {
    const run = await runInProcess(['iso8583', 'decode', '--encoding', 'binary', '0210 0000000002000000 3030'])
    assert.equal(run.stdout, '{"mti":"0210","fields":{"39":"00"}}\n')
  })

  it('prints one line naming the field on stderr and exits 1 for a malformed message', async () => {
    const run = await runInProcess(['iso8583', 'decode', hexOf('0200100000000000000000000000010A')])
    assert.deepEqual(run, { stdout: '', stderr: 'field 4: type n takes digits 0-9; found "A" at position 12\n', exitCode: 1 })
  })

  it('exits 1 for input that is not hex', async () => {
    const run = await runInProcess(['iso8583', 'decode', '30313G'])
    assert.deepEqual(run, { stdout: '', stderr: 'input: the message must be hex, two characters per byte\n', exitCode: 1 })
  })

  it('refuses an unknown encoding through commander', async () => {
    const run = await runInProcess(['iso8583', 'decode', '--encoding', 'ebcdic', authorizationHex])
    assert.equal(run.exitCode, 1)
    assert.match(run.stderr, /argument 'ebcdic' is invalid\. Allowed choices are ascii, binary, ascii-binary-bitmap/)
    assert.equal(run.stdout, '')
  })
})

describe('kassa iso8583 encode', () => {
  it('reads the JSON decode prints and prints the hex of the message', async () => {
    const run = await runInProcess(['iso8583', 'encode'], '{"mti":"0100","fields":{"2":"4242424242424242","3":"123456","4":"000000000100"}}')
    assert.deepEqual(run, { stdout: `${authorizationHex.toUpperCase()}\n`, stderr: '', exitCode: 0 })
  })

  it('encodes binary with a secondary bitmap', async () => {
    const run = await runInProcess(['iso8583', 'encode', '--encoding', 'binary'], '{"mti":"0800","fields":{"11":"000001","70":"301"}}')
    assert.equal(run.stdout, '0800' + '8020000000000000' + '0400000000000000' + '000001' + '0301' + '\n')
  })

  it('round-trips with decode --show-pan in every encoding', async () => {
    const json = '{"mti":"0200","fields":{"2":"6212345678901234","3":"000000","4":"000000010000","35":"6212345678901234=2512201","52":"00112233AABBCCDD","55":"9F0206000000010000"}}'
    for (const encoding of ['ascii', 'binary', 'ascii-binary-bitmap']) {
      const encoded = await runInProcess(['iso8583', 'encode', '--encoding', encoding], json)
      const decoded = await runInProcess(['iso8583', 'decode', '--encoding', encoding, '--show-pan', encoded.stdout.trim()])
      assert.equal(decoded.stdout, `${json}\n`, encoding)
    }
  })

  const failures: Array<{ name: string; stdin: string; stderr: string }> = [
    { name: 'a field too long', stdin: '{"mti":"0200","fields":{"2":"12345678901234567890"}}', stderr: 'field 2: 20 digits, more than the maximum 19' },
    { name: 'an MTI of 3 digits', stdin: '{"mti":"200","fields":{}}', stderr: 'mti: must be 4 digits, got "200"' },
    { name: 'a masked PAN fed back', stdin: '{"mti":"0100","fields":{"2":"424242******4242"}}', stderr: 'field 2: type n takes digits 0-9; found "*" at position 7' },
    { name: 'input that is not JSON', stdin: '{"mti":', stderr: 'input: not JSON (' },
    { name: 'JSON of another shape', stdin: '["0200"]', stderr: 'input: expected {"mti": "0200", "fields": {"3": "000000", …}}' },
    { name: 'an unexpected key', stdin: '{"mti":"0200","fields":{},"bitmap":"00"}', stderr: 'input: unexpected key "bitmap"; expected' },
    { name: 'a field key that is not a number', stdin: '{"mti":"0200","fields":{"PAN":"1"}}', stderr: 'input: field key "PAN" is not a field number' },
    { name: 'a number instead of a string', stdin: '{"mti":"0200","fields":{"4":100}}', stderr: 'field 4: the value must be a string' },
  ]
  for (const failure of failures) {
    it(`prints one line and exits 1 for ${failure.name}`, async () => {
      const run = await runInProcess(['iso8583', 'encode'], failure.stdin)
      assert.equal(run.exitCode, 1)
      assert.equal(run.stdout, '')
      assert.ok(run.stderr.startsWith(failure.stderr), run.stderr)
      assert.equal(run.stderr.split('\n').length, 2, 'one line')
    })
  }
})

describe('kassa iso8583 in a process of its own', () => {
  it('exits 0 and prints JSON for a good message', () => {
    const run = runInProcessOfItsOwn(['iso8583', 'decode', authorizationHex])
    assert.deepEqual(run, {
      stdout: '{"mti":"0100","fields":{"2":"424242******4242","3":"123456","4":"000000000100"}}\n',
      stderr: '',
      exitCode: 0,
    })
  })

  it('exits 1 with one line on stderr for a truncated message', () => {
    const run = runInProcessOfItsOwn(['iso8583', 'decode', authorizationHex.slice(0, -4)])
    assert.deepEqual(run, { stdout: '', stderr: 'field 4: message ends after 10 of the 12 bytes of its data\n', exitCode: 1 })
  })

  it('reads stdin for encode', () => {
    const run = runInProcessOfItsOwn(['iso8583', 'encode'], '{"mti":"0800","fields":{"70":"301"}}')
    assert.deepEqual(run, { stdout: `${hexOf('0800800000000000000004000000000000003' + '01').toUpperCase()}\n`, stderr: '', exitCode: 0 })
  })
})
