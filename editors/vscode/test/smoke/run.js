// Smoke test of extension.js outside VS Code: a stub `vscode` module (just
// enough of the API for the extension and vscode-languageclient) and a fake
// language server. Checks that the extension
//   1. starts `<rasp.server.path> lsp` (no other argument), completes the
//      LSP handshake, registers the server's `rasp.verify` command and its
//      own commands, and shuts the server down on deactivate;
//   2. restarts the server with rasp.restartServer (two at once: in turn);
//   3. shows the install hint (cargo install --path . / rasp.server.path)
//      when the executable does not exist;
//   4. says that a rasp without an `lsp` command is too old;
//   5. with RASP_LSP_BIN set, starts that real `rasp lsp` the same way.
// Usage: [RASP_LSP_BIN=path/to/rasp] [RASP_EXTENSION_DIR=dir] node test/smoke/run.js
// (from anywhere, after npm ci)
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const Module = require('module');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rasp-vscode-smoke-'));
const logFile = path.join(tmp, 'server.log');
process.env.FAKE_RASP_LOG = logFile;

function executable(name, script) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}
const fakeServer = executable(
  'rasp',
  `#!/bin/sh\nexec "${process.execPath}" "${path.join(__dirname, 'fake-server.js')}" "$@"\n`
);
const oldRasp = executable(
  'old-rasp',
  `#!/bin/sh\n[ "$1" = --version ] && { echo "rasp 0.0.1"; exit 0; }\necho "error: unrecognized subcommand '$1'" >&2\nexit 2\n`
);

// ---------------------------------------------------------------- the stub
const settings = { 'rasp.server.path': fakeServer, 'rasp.trace.server': 'off' };
const commands = new Map();
const errors = [];
const outputText = [];
const disposable = () => ({ dispose() {} });
// Anything not modelled: a callable, constructible object whose members are
// more of the same; not a thenable, iterates as empty.
function anything() {
  const target = function () {};
  return new Proxy(target, {
    get(_, key) {
      if (key === 'then') return undefined;
      if (key === Symbol.iterator) return function* () {};
      if (key === Symbol.toPrimitive) return () => '';
      if (key === 'dispose') return () => {};
      return anything();
    },
    apply: () => anything(),
    construct: () => anything(),
  });
}
function channel(name) {
  return {
    name,
    append: (s) => outputText.push(s),
    appendLine: (s) => outputText.push(s + '\n'),
    show() {},
    clear() {},
    hide() {},
    replace() {},
    dispose() {},
  };
}
class EventEmitter {
  constructor() {
    this.listeners = [];
    this.event = (l) => {
      this.listeners.push(l);
      return disposable();
    };
  }
  fire(e) {
    this.listeners.forEach((l) => l(e));
  }
  dispose() {}
}
class Disposable {
  constructor(f) {
    this.f = f;
  }
  static from(...ds) {
    return new Disposable(() => ds.forEach((d) => d && d.dispose && d.dispose()));
  }
  dispose() {
    if (this.f) this.f();
  }
}
const event = () => disposable();
const base = {
  version: '1.90.0',
  env: { language: 'en', appName: 'stub', machineId: 'stub' },
  EventEmitter,
  Disposable,
  CancellationTokenSource: class {
    constructor() {
      this.token = { isCancellationRequested: false, onCancellationRequested: event };
    }
    cancel() {}
    dispose() {}
  },
  Uri: {
    parse: (s) => ({ toString: () => s, fsPath: s, scheme: 'file' }),
    file: (p) => ({ toString: () => 'file://' + p, fsPath: p, scheme: 'file' }),
  },
  commands: {
    registerCommand(id, f) {
      assert(!commands.has(id), `command ${id} registered twice`);
      commands.set(id, f);
      return { dispose: () => commands.delete(id) };
    },
    executeCommand: async (id, ...args) => (commands.has(id) ? commands.get(id)(...args) : undefined),
  },
  window: {
    createOutputChannel: channel,
    showErrorMessage: async (m) => {
      errors.push(m);
      return undefined;
    },
    showWarningMessage: async () => undefined,
    showInformationMessage: async () => undefined,
    onDidChangeActiveTextEditor: event,
    onDidChangeVisibleTextEditors: event,
    visibleTextEditors: [],
    activeTextEditor: undefined,
    tabGroups: { all: [], onDidChangeTabs: event, onDidChangeTabGroups: event },
  },
  workspace: {
    workspaceFolders: undefined,
    textDocuments: [],
    notebookDocuments: [],
    getConfiguration(section) {
      const prefix = section ? section + '.' : '';
      return {
        get: (key, dflt) => (prefix + key in settings ? settings[prefix + key] : dflt),
        has: (key) => prefix + key in settings,
        inspect: () => undefined,
        update: async () => {},
      };
    },
    onDidChangeConfiguration: event,
    onDidOpenTextDocument: event,
    onDidCloseTextDocument: event,
    onDidChangeTextDocument: event,
    onDidSaveTextDocument: event,
    onWillSaveTextDocument: event,
    onDidChangeWorkspaceFolders: event,
    onDidCreateFiles: event,
    onDidRenameFiles: event,
    onDidDeleteFiles: event,
    onWillCreateFiles: event,
    onWillRenameFiles: event,
    onWillDeleteFiles: event,
    createFileSystemWatcher: () => ({
      onDidCreate: event,
      onDidChange: event,
      onDidDelete: event,
      dispose() {},
    }),
  },
  languages: { match: () => 0 },
};
// Members not modelled above are `anything()`, in the namespaces too.
const withFallback = (obj) =>
  new Proxy(obj, { get: (target, key) => (key in target ? target[key] : anything()) });
for (const ns of ['commands', 'window', 'workspace', 'languages']) base[ns] = withFallback(base[ns]);
const vscode = withFallback(base);
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode };

// ---------------------------------------------------------------- the test
// The servers' records so far (whole lines only: one may be being written).
const log = () =>
  (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '')
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l));
// RASP_EXTENSION_DIR: run another copy (the unpacked .vsix, to check that it
// holds every module the extension loads).
const extensionDir = path.resolve(process.env.RASP_EXTENSION_DIR || path.join(__dirname, '../..'));
const ext = require(path.join(extensionDir, 'extension.js'));
const context = { subscriptions: [], extensionPath: extensionDir };
const checks = [];
const check = (name, f) => checks.push([name, f]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const methods = () => log().filter((e) => e.method).map((e) => e.method);
/** The methods the server received, once `last` is among them (5 s at most). */
async function methodsUntil(last) {
  for (let i = 0; i < 50 && !methods().includes(last); i++) await sleep(100);
  return methods();
}
// A rejected promise that nobody handles is a failure (VS Code would log it).
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

check('starts `rasp lsp` and completes the handshake', async () => {
  await ext.activate(context);
  const entries = log();
  const runs = entries.filter((e) => e.args).map((e) => e.args.join(' ')).sort();
  assert.deepStrictEqual(runs, ['--version', 'lsp', 'lsp --help'], 'the server is started as `rasp lsp`');
  assert.deepStrictEqual((await methodsUntil('initialized')).slice(0, 2), ['initialize', 'initialized']);
  assert(commands.has('rasp.verify'), 'the server command rasp.verify is registered');
  assert(commands.has('rasp.restartServer') && commands.has('rasp.showOutput'));
  assert.deepStrictEqual(errors, []);
  assert(outputText.join('').includes('rasp 0.0.0-fake'), 'the version is logged');
});
check('rasp.restartServer restarts the server', async () => {
  fs.writeFileSync(logFile, '');
  await commands.get('rasp.restartServer')();
  // The old server stops before the new one starts.
  assert.deepStrictEqual(await methodsUntil('initialized'), ['shutdown', 'exit', 'initialize', 'initialized']);
  assert(commands.has('rasp.verify'), 'rasp.verify is registered again');
  assert.deepStrictEqual(errors, []);
});
check('two restarts at once run one after the other', async () => {
  fs.writeFileSync(logFile, '');
  await Promise.all([commands.get('rasp.restartServer')(), commands.get('rasp.restartServer')()]);
  const cycle = ['shutdown', 'exit', 'initialize', 'initialized'];
  for (let i = 0; i < 50 && methods().length < 8; i++) await sleep(100);
  assert.deepStrictEqual(methods(), [...cycle, ...cycle]);
  assert.deepStrictEqual(errors, []);
});
check('deactivate shuts the server down', async () => {
  fs.writeFileSync(logFile, '');
  await ext.deactivate();
  assert.deepStrictEqual(await methodsUntil('exit'), ['shutdown', 'exit']);
  assert(!commands.has('rasp.verify'), 'rasp.verify is unregistered with the client');
});
check('a missing executable gives the install hint', async () => {
  settings['rasp.server.path'] = path.join(tmp, 'no-such-rasp');
  await commands.get('rasp.restartServer')();
  assert.strictEqual(errors.length, 1, `one error: ${errors}`);
  assert(errors[0].includes('cargo install --path .') && errors[0].includes('rasp.server.path'), errors[0]);
  errors.length = 0;
});
check('a rasp without `lsp` is reported as too old', async () => {
  settings['rasp.server.path'] = oldRasp;
  await commands.get('rasp.restartServer')();
  assert.strictEqual(errors.length, 1, `one error: ${errors}`);
  assert(errors[0].includes('has no `lsp` command') && errors[0].includes('rasp 0.0.1'), errors[0]);
  errors.length = 0;
  await ext.deactivate();
});
// With RASP_LSP_BIN (a rasp that has `rasp lsp`), the real server too.
if (process.env.RASP_LSP_BIN) {
  check(`the real server (${process.env.RASP_LSP_BIN}) starts and offers rasp.verify`, async () => {
    settings['rasp.server.path'] = path.resolve(process.env.RASP_LSP_BIN);
    await commands.get('rasp.restartServer')();
    assert.deepStrictEqual(errors, [], outputText.join(''));
    assert(outputText.join('').includes('the language server is running'));
    assert(commands.has('rasp.verify'), 'the server offers rasp.verify (executeCommandProvider)');
    await ext.deactivate();
  });
}

(async () => {
  const timer = setTimeout(() => {
    console.error('smoke test: timed out after 60 s');
    process.exit(1);
  }, 60000);
  let failed = 0;
  for (const [name, f] of checks) {
    try {
      await f();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n     ${e && e.stack ? e.stack : e}`);
    }
  }
  clearTimeout(timer);
  for (const e of unhandled) {
    failed++;
    console.log(`FAIL unhandled rejection: ${e && e.stack ? e.stack : e}`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`extension smoke test: ${Math.max(0, checks.length - failed)}/${checks.length} passed`);
  if (failed) console.log(outputText.join(''));
  process.exit(failed ? 1 : 0);
})();
