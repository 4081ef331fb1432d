// The taskdsl extension: highlighting is declarative (package.json); this file
// only starts `taskdsl lsp` as the language server.  Plain CommonJS, no build
// step: run `npm install` in this folder once to fetch vscode-languageclient.
// Without it, highlighting still works and a message says how to get the server.
"use strict";

const vscode = require("vscode");

let client;

const NO_CLIENT =
  "taskdsl: the language server needs vscode-languageclient; run `npm install` in the extension's folder " +
  "(editors/vscode). Highlighting works without it.";

async function activate(context) {
  const settings = vscode.workspace.getConfiguration("taskdsl");
  const command = settings.get("server.command", ["taskdsl", "lsp"]);
  if (!Array.isArray(command) || command.length === 0) {
    return; // the user turned the server off
  }
  let languageclient;
  try {
    languageclient = require("vscode-languageclient/node");
  } catch (error) {
    vscode.window.showWarningMessage(NO_CLIENT);
    return;
  }
  const server = { command: command[0], args: command.slice(1) };
  client = new languageclient.LanguageClient(
    "taskdsl",
    "taskdsl",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "taskdsl" }],
      initializationOptions: { backends: settings.get("server.backends", true) },
    }
  );
  context.subscriptions.push(client);
  await client.start();
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };
