// The RASP extension: highlighting and snippets are declared in package.json;
// this file starts the language server, `rasp lsp`, over stdio and gives it
// the .rasp documents (diagnostics, hover, go to definition, references,
// rename, completion, symbols, formatting, and the `rasp.verify` command of
// the "verify" code lenses, which the client registers from the server's
// capabilities).
//
// Plain CommonJS, no build step: VS Code loads this file as is.
'use strict';

const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

const NAME = 'RASP Language Server';
const INSTALL_HINT =
  'Install it with `cargo install --path .` in a checkout of rasp (the binary goes to ~/.cargo/bin), ' +
  'or set `rasp.server.path` to the rasp executable.';

/** @type {LanguageClient | undefined} */
let client;
/** @type {vscode.OutputChannel} */
let output;
/** @type {vscode.OutputChannel} */
let traceOutput;
/** @type {vscode.FileSystemWatcher} */
let watcher;
/** The last start, stop or restart: each waits for the one before. */
let pending = Promise.resolve();

function log(message) {
  output.appendLine(`[${new Date().toLocaleTimeString()}] ${message}`);
}

/** `~` and `${workspaceFolder}` expanded; a relative path with a directory
 * part is taken from the first workspace folder. */
function expand(setting) {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  let p = setting.trim();
  if (folder) p = p.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath);
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(os.homedir(), p.slice(1));
  if (!path.isAbsolute(p) && /[\\/]/.test(p) && folder) p = path.join(folder.uri.fsPath, p);
  return p;
}

function isExecutable(file) {
  try {
    if (!fs.statSync(file).isFile()) return false;
    if (process.platform !== 'win32') fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch (_) {
    return false;
  }
}

/** The executable a command names: a path as is, a bare name from PATH,
 * then from cargo's bin directory (which VS Code started from a desktop
 * launcher often lacks on its PATH). undefined when there is none. */
function findExecutable(command) {
  const exts = process.platform === 'win32'
    ? ['', ...(process.env.PATHEXT || '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean)]
    : [''];
  const candidates = (base) => exts.map((e) => base + e);
  if (path.isAbsolute(command) || /[\\/]/.test(command)) {
    return candidates(command).find(isExecutable);
  }
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  const cargoHome = process.env.CARGO_HOME || path.join(os.homedir(), '.cargo');
  dirs.push(path.join(cargoHome, 'bin'));
  for (const dir of dirs) {
    const found = candidates(path.join(dir, command)).find(isExecutable);
    if (found) return found;
  }
  return undefined;
}

/** Runs `file args` and resolves to { code, stdout, stderr } (never rejects);
 * code is -1 when the command could not run or timed out. */
function probe(file, args) {
  return new Promise((resolve) => {
    cp.execFile(file, args, { timeout: 10000, windowsHide: true }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (error && error.message) || '') });
    });
  });
}

async function showError(message, ...extra) {
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Output', ...extra);
  if (choice === 'Open Settings') {
    vscode.commands.executeCommand('workbench.action.openSettings', 'rasp.server.path');
  } else if (choice === 'Show Output') {
    output.show(true);
  }
  return choice;
}

async function startClient() {
  const setting = vscode.workspace.getConfiguration('rasp').get('server.path', 'rasp') || 'rasp';
  const command = findExecutable(expand(setting));
  if (!command) {
    log(`rasp not found: rasp.server.path is "${setting}"; PATH is ${process.env.PATH || '(empty)'}`);
    showError(`RASP: the language server executable "${setting}" was not found. ${INSTALL_HINT}`);
    return;
  }
  // An older rasp has no `lsp` command: say so, rather than start a server
  // that exits at once (the client would report a broken connection).
  const [version, help] = await Promise.all([probe(command, ['--version']), probe(command, ['lsp', '--help'])]);
  if (help.code > 0) {
    log(`${command} lsp --help: exit ${help.code}: ${help.stderr.trim()}`);
    showError(
      `RASP: "${command}" (${version.stdout.trim() || 'version unknown'}) has no \`lsp\` command: it predates the ` +
        'language server. Reinstall rasp with `cargo install --path .` in an up-to-date checkout, or set `rasp.server.path`.'
    );
    return;
  }
  log(`starting ${command} lsp (${version.stdout.trim() || 'version unknown'})`);

  const serverOptions = {
    // No `transport` key: stdio is the default, and naming it would make the
    // client append `--stdio` to the arguments.
    run: { command, args: ['lsp'] },
    debug: { command, args: ['lsp'] },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'rasp' },
      { scheme: 'untitled', language: 'rasp' },
    ],
    // `load "name";` reads other files: tell the server when they change.
    synchronize: { fileEvents: watcher },
    outputChannel: output,
    traceOutputChannel: traceOutput,
  };
  // The id `rasp` makes the client read the `rasp.trace.server` setting.
  const c = new LanguageClient('rasp', NAME, serverOptions, clientOptions);
  client = c;
  try {
    await c.start();
    log('the language server is running');
  } catch (err) {
    log(`the language server did not start: ${err && err.message ? err.message : err}`);
    if (client === c) client = undefined;
    try {
      await c.dispose();
    } catch (_) {
      // already stopped
    }
    showError(`RASP: the language server "${command} lsp" failed to start. See the output for details.`);
  }
}

async function stopClient() {
  const c = client;
  client = undefined;
  if (!c) return;
  try {
    await c.stop();
  } catch (err) {
    log(`stopping the language server: ${err && err.message ? err.message : err}`);
  }
  try {
    await c.dispose();
  } catch (_) {
    // already disposed
  }
}

/** Runs `step` after the start, stop or restart in progress. */
function queue(step) {
  pending = pending.then(step, step);
  return pending;
}

function restart() {
  return queue(async () => {
    log('restarting the language server');
    await stopClient();
    await startClient();
  });
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  output = vscode.window.createOutputChannel(NAME);
  traceOutput = vscode.window.createOutputChannel(`${NAME} Trace`);
  watcher = vscode.workspace.createFileSystemWatcher('**/*.rasp');
  context.subscriptions.push(
    output,
    traceOutput,
    watcher,
    vscode.commands.registerCommand('rasp.restartServer', restart),
    vscode.commands.registerCommand('rasp.showOutput', () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('rasp.server.path')) restart();
    })
  );
  await queue(startClient);
}

function deactivate() {
  return queue(stopClient);
}

module.exports = { activate, deactivate };
