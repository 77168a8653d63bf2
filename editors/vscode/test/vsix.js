// Checks a packaged .vsix: it holds what the extension needs at run time
// (the manifest, extension.js, the grammar, snippets, language
// configuration, and vscode-languageclient with its own dependencies) and
// none of the tests or development dependencies. Unpacks it into DIR so that
// the smoke test can run the packaged copy.
// Usage: node test/vsix.js FILE.vsix DIR
'use strict';
const fs = require('fs');
const path = require('path');
const yauzl = require('yauzl'); // a dependency of @vscode/vsce

const [vsix, dir] = process.argv.slice(2);
const required = [
  'extension/package.json',
  'extension/extension.js',
  'extension/language-configuration.json',
  'extension/syntaxes/rasp.tmLanguage.json',
  'extension/snippets/rasp.json',
  'extension/readme.md',
  'extension/LICENSE.txt',
  'extension/node_modules/vscode-languageclient/package.json',
  'extension/node_modules/vscode-languageclient/node.js',
  'extension/node_modules/vscode-languageclient/lib/node/main.js',
  'extension/node_modules/vscode-languageserver-protocol/package.json',
  'extension/node_modules/vscode-jsonrpc/package.json',
];
const forbidden = [
  /^extension\/test\//,
  /^extension\/package-lock\.json$/,
  /^extension\/\.(git|vscode)ignore$/,
  /^extension\/node_modules\/(@vscode\/vsce|vscode-tmgrammar-test|vscode-textmate|vscode-oniguruma|yauzl)\//,
  /\.vsix$/,
];

yauzl.open(vsix, { lazyEntries: true }, (err, zip) => {
  if (err) throw err;
  const names = [];
  zip.on('entry', (entry) => {
    names.push(entry.fileName);
    const out = path.join(dir, entry.fileName);
    if (/\/$/.test(entry.fileName)) {
      zip.readEntry();
      return;
    }
    fs.mkdirSync(path.dirname(out), { recursive: true });
    zip.openReadStream(entry, (e, stream) => {
      if (e) throw e;
      stream.pipe(fs.createWriteStream(out)).on('finish', () => zip.readEntry());
    });
  });
  zip.on('end', () => {
    const missing = required.filter((n) => !names.includes(n));
    const extra = names.filter((n) => forbidden.some((re) => re.test(n)));
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'extension/package.json'), 'utf8'));
    const problems = [
      ...missing.map((n) => `missing ${n}`),
      ...extra.map((n) => `should not be packaged: ${n}`),
    ];
    if (manifest.main !== './extension.js') problems.push(`main is ${manifest.main}`);
    if (problems.length) {
      console.error(`${vsix}:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    const modules = new Set(names.map((n) => (/^extension\/node_modules\/((@[^/]+\/)?[^/]+)\//.exec(n) || [])[1]).filter(Boolean));
    console.log(`vsix: ${names.length} files, node_modules: ${[...modules].sort().join(' ')}`);
  });
  zip.readEntry();
});
