// The mpl profiles extension: highlighting comes from the TextMate grammar in
// syntaxes/; diagnostics, formatting (Format Document, format on save: the
// server's textDocument/formatting runs the same code as `mpl fmt`) and
// whatever else the server offers come from the language server `mpl lsp`,
// started over stdio by this client. vscode-languageclient registers a
// feature, formatting included, when the server announces it.
//
// Plain CommonJS on purpose: no build step, `vsce package` ships this file as is.
'use strict';

const os = require('os');
const path = require('path');
const vscode = require('vscode');
const { LanguageClient, RevealOutputChannelOn } = require('vscode-languageclient/node');

const CLIENT_ID = 'mpl'; // also the settings prefix: the client reads `mpl.trace.server` by itself
const CLIENT_NAME = 'mpl Language Server';
const RESTART_SETTINGS = ['mpl.path', 'mpl.ollamaVersion'];

/** @type {LanguageClient | undefined} */
let client;
/** @type {vscode.OutputChannel | undefined} */
let outputChannel;
/** Start/stop/restart requests run one after the other. */
let queue = Promise.resolve();

function enqueue(job) {
  queue = queue.then(job, job).catch((err) => {
    if (outputChannel) outputChannel.appendLine(`[mpl] ${err && err.stack ? err.stack : err}`);
  });
  return queue;
}

/**
 * The `mpl` command from the `mpl.path` setting: `~` and `${workspaceFolder}`
 * are expanded; a bare name is left for the OS to look up on PATH.
 */
function serverCommand() {
  const config = vscode.workspace.getConfiguration('mpl');
  let command = String(config.get('path') || '').trim() || 'mpl';
  const folders = vscode.workspace.workspaceFolders;
  const folder = folders && folders.length > 0 ? folders[0].uri.fsPath : undefined;
  if (folder) command = command.replace(/\$\{workspaceFolder\}/g, folder);
  if (command === '~' || command.startsWith('~/') || command.startsWith('~\\')) {
    command = path.join(os.homedir(), command.slice(1));
  }
  return { command, cwd: folder };
}

/** The `mpl.ollamaVersion` setting as the server gets it: "" means "not set". */
function ollamaVersion() {
  const value = vscode.workspace.getConfiguration('mpl').get('ollamaVersion');
  return typeof value === 'string' ? value.trim() : '';
}

function createClient() {
  const { command, cwd } = serverCommand();
  const executable = {
    command,
    args: ['lsp'],
    // No `transport`: the client then talks over the child's stdin/stdout
    // without adding a `--stdio` argument that `mpl lsp` does not take.
    options: cwd ? { cwd } : {},
  };
  /** @type {import('vscode-languageclient/node').ServerOptions} */
  const serverOptions = { run: executable, debug: executable };
  /** @type {import('vscode-languageclient/node').LanguageClientOptions} */
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'mprof' },
      { scheme: 'untitled', language: 'mprof' },
      { scheme: 'file', language: 'modelfile' },
      { scheme: 'untitled', language: 'modelfile' },
    ],
    initializationOptions: { ollamaVersion: ollamaVersion() },
    outputChannel,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  return new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
}

async function startClient() {
  const next = createClient();
  client = next;
  try {
    await next.start();
  } catch (err) {
    if (client === next) client = undefined;
    const { command } = serverCommand();
    const message = `mpl: could not start the language server \`${command} lsp\`: ${err && err.message ? err.message : err}`;
    if (outputChannel) outputChannel.appendLine(message);
    const choice = await vscode.window.showErrorMessage(
      `${message}. Install mpl or point the \`mpl.path\` setting at it.`,
      'Open Settings',
      'Show Output'
    );
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'mpl.path');
    } else if (choice === 'Show Output' && outputChannel) {
      outputChannel.show(true);
    }
  }
}

async function stopClient() {
  const current = client;
  client = undefined;
  if (current) {
    try {
      await current.stop();
    } catch (err) {
      // A server that never started or already died cannot be stopped; that is fine.
      if (outputChannel) outputChannel.appendLine(`[mpl] stopping the server: ${err && err.message ? err.message : err}`);
    }
  }
}

function restart() {
  return enqueue(async () => {
    await stopClient();
    await startClient();
  });
}

/** @param {vscode.ExtensionContext} context */
function activate(context) {
  outputChannel = vscode.window.createOutputChannel(CLIENT_NAME);
  context.subscriptions.push(
    outputChannel,
    vscode.commands.registerCommand('mpl.restartServer', () => restart()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      // The command and the initialization options are read only when the
      // server starts, so a change to either needs a new server.
      if (RESTART_SETTINGS.some((section) => event.affectsConfiguration(section))) restart();
    })
  );
  return enqueue(startClient);
}

function deactivate() {
  return enqueue(stopClient);
}

module.exports = { activate, deactivate };
