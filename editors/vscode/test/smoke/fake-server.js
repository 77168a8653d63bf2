// A minimal stand-in for `rasp lsp`: answers initialize and shutdown over
// stdio and records its arguments and the methods it received in the file
// named by FAKE_RASP_LOG. `--version` prints a version, as rasp does.
'use strict';
const fs = require('fs');
const logFile = process.env.FAKE_RASP_LOG;
const record = (entry) => fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
const args = process.argv.slice(2);
record({ args });
if (args[0] === '--version') {
  process.stdout.write('rasp 0.0.0-fake\n');
  process.exit(0);
}
if (args[0] === 'lsp' && args[1] === '--help') {
  process.stdout.write('The language server, over stdio\n\nUsage: rasp lsp\n');
  process.exit(0);
}
if (args[0] !== 'lsp') {
  process.stderr.write(`error: unrecognized subcommand '${args[0]}'\n`);
  process.exit(2);
}
let buffer = Buffer.alloc(0);
function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}
process.stdin.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const headerEnd = buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const length = Number(/Content-Length: (\d+)/i.exec(buffer.slice(0, headerEnd).toString())[1]);
    if (buffer.length < headerEnd + 4 + length) return;
    const message = JSON.parse(buffer.slice(headerEnd + 4, headerEnd + 4 + length).toString('utf8'));
    buffer = buffer.slice(headerEnd + 4 + length);
    record({ method: message.method });
    if (message.method === 'initialize') {
      send({
        id: message.id,
        result: {
          capabilities: { textDocumentSync: 1, executeCommandProvider: { commands: ['rasp.verify'] } },
          serverInfo: { name: 'fake-rasp' },
        },
      });
    } else if (message.method === 'shutdown') {
      send({ id: message.id, result: null });
    } else if (message.method === 'exit') {
      process.exit(0);
    }
  }
});
