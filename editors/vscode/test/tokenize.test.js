// Tokenizes .mprof text with the extension's TextMate grammar, the way VS Code
// does (vscode-textmate + the oniguruma wasm), and checks the scopes.
//
// Two kinds of checks:
//   * snapshots: every ../../examples/*.mprof file and every snippet in
//     SNIPPETS is dumped, one line per token, and compared with
//     test/__snapshots__/<name>.scopes.txt. A dump line reads
//         LINE:START-END  'text'  scope scope …
//     with LINE counted from 1, START/END as character offsets in the line
//     (from 0, END exclusive), and the root scope `source.mprof` left out.
//     Blank tokens that carry only `meta.*` scopes are left out too.
//     `UPDATE_SNAPSHOTS=1 npm test` (re)writes the snapshots and deletes
//     those no example or snippet produces any more; without it a missing
//     snapshot fails the test, so CI never passes on a snapshot it lacks.
//   * direct assertions on chosen tokens, so that a wrong snapshot that was
//     accepted by mistake cannot make the suite pass.
//
// Run with `npm test` (node's built-in test runner, no extra dependency).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const EXTENSION_DIR = path.resolve(__dirname, '..');
const GRAMMAR_PATH = path.join(EXTENSION_DIR, 'syntaxes', 'mprof.tmLanguage.json');
const WASM_PATH = path.join(EXTENSION_DIR, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm');
const REPO_DIR = path.resolve(EXTENSION_DIR, '..', '..');
const EXAMPLES_DIR = path.join(REPO_DIR, 'examples');
const LARK_GRAMMAR = path.join(REPO_DIR, 'grammar', 'profile.lark');
const SNAPSHOT_DIR = path.join(__dirname, '__snapshots__');
const SNAPSHOT_SUFFIX = '.scopes.txt';
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';
const ROOT_SCOPE = 'source.mprof';

// -- the grammar ----------------------------------------------------------------

let grammarPromise;

function loadGrammar() {
  if (!grammarPromise) {
    grammarPromise = (async () => {
      const wasm = fs.readFileSync(WASM_PATH);
      await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
      const registry = new vsctm.Registry({
        onigLib: Promise.resolve({
          createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
          createOnigString: (text) => new oniguruma.OnigString(text),
        }),
        loadGrammar: async (scopeName) => {
          if (scopeName !== ROOT_SCOPE) return null;
          return vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH);
        },
      });
      const grammar = await registry.loadGrammar(ROOT_SCOPE);
      assert.ok(grammar, `could not load ${GRAMMAR_PATH}`);
      return grammar;
    })();
  }
  return grammarPromise;
}

/**
 * Tokenize a whole text. Returns the tokens ({ line (from 1), start, end,
 * text, scopes without the root }) and the rule stack after the last line.
 */
async function tokenize(text) {
  const grammar = await loadGrammar();
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const tokens = [];
  let stack = vsctm.INITIAL;
  lines.forEach((line, index) => {
    const result = grammar.tokenizeLine(line, stack);
    assert.ok(!result.stoppedEarly, `tokenizing stopped early on line ${index + 1}`);
    for (const token of result.tokens) {
      const end = Math.min(token.endIndex, line.length);
      if (end <= token.startIndex) continue;
      assert.equal(token.scopes[0], ROOT_SCOPE);
      tokens.push({
        line: index + 1,
        start: token.startIndex,
        end,
        text: line.slice(token.startIndex, end),
        scopes: token.scopes.slice(1),
      });
    }
    stack = result.ruleStack;
  });
  return { tokens, stack };
}

function quote(text) {
  const body = text.replace(/[\\'\t\u0000-\u001f\u007f]/g, (ch) => {
    if (ch === '\\') return '\\\\';
    if (ch === "'") return "\\'";
    if (ch === '\t') return '\\t';
    return `\\u{${ch.codePointAt(0).toString(16)}}`;
  });
  return `'${body}'`;
}

function dump(tokens) {
  const rows = [];
  for (const token of tokens) {
    const blank = token.text.trim() === '';
    if (blank && token.scopes.every((scope) => scope.startsWith('meta.'))) continue;
    rows.push(`${token.line}:${token.start}-${token.end}  ${quote(token.text)}  ${token.scopes.join(' ')}`.trimEnd());
  }
  return rows.join('\n') + '\n';
}

/** The scopes of the token that covers the `occurrence`-th `needle` in `text`. */
async function scopesOf(text, needle, occurrence = 1) {
  let offset = -1;
  for (let i = 0; i < occurrence; i += 1) {
    offset = text.indexOf(needle, offset + 1);
    assert.notEqual(offset, -1, `${JSON.stringify(needle)} (#${occurrence}) not in ${JSON.stringify(text)}`);
  }
  const before = text.slice(0, offset).split(/\r\n|\r|\n/);
  const line = before.length;
  const col = before[before.length - 1].length;
  const { tokens } = await tokenize(text);
  const token = tokens.find((t) => t.line === line && t.start <= col && col < t.end);
  assert.ok(token, `no token at ${line}:${col}`);
  return token;
}

/** Assert that `needle` is one token with exactly `expected` as its innermost scopes. */
async function expectScopes(text, needle, expected, occurrence = 1) {
  const token = await scopesOf(text, needle, occurrence);
  assert.equal(token.text, needle, `${JSON.stringify(needle)} is not a token of its own: got ${quote(token.text)}`);
  const tail = token.scopes.slice(token.scopes.length - expected.length);
  assert.deepEqual(tail, expected, `${quote(needle)} in ${JSON.stringify(text)}: scopes ${token.scopes.join(' ')}`);
}

/** Assert that the token holding `needle` carries `scope` (anywhere in its stack). */
async function expectWithin(text, needle, scope, occurrence = 1) {
  const token = await scopesOf(text, needle, occurrence);
  assert.ok(
    token.scopes.includes(scope),
    `${quote(needle)} in ${JSON.stringify(text)}: expected ${scope}, got ${token.scopes.join(' ') || '(none)'}`
  );
  return token;
}

// -- snapshots ------------------------------------------------------------------------

// Snippets that between them use every construct of the language.
const SNIPPETS = {
  'snippet-declarations': [
    '# declarations',
    'ollama "0.12"   # the target version',
    'tasks general, debug, explain',
    'default precise',
    'profile base < num_ctx 4096 >; profile precise extends base <',
    '  temperature 0.0',
    '>',
    'model plain from "llama3.2:1b"',
    'model "ns/meton:7b" from plain',
    'model tuned from "./base.gguf" < adapter "./lora.gguf" >',
    '',
  ].join('\n'),
  'snippet-one-line-blocks': [
    'profile debugging extends precise for debug < mirostat 2; top_k 20 >',
    'profile explanation extends base for explain, docs < "Explain things"; temperature 0.5 >',
    'profile docs extends base < when task is docs < repeat_penalty 1.15 >; top_p 0.9 >',
    'model m from "qwen2.5-coder:7b" < use precise; num_ctx 16384 >',
    '',
  ].join('\n'),
  'snippet-triple-string': [
    'model meton from "qwen2.5-coder:7b" <',
    '  system """',
    'You are Meton, a "local" coding assistant.',
    '# this is not a comment; < neither > is this',
    'Tab:\\t, smile: \\u{1F600}, e-acute: \\u00e9, bad: \\q',
    '"""',
    '  template """{{ .System }}""" # after a one-line triple string',
    '  num_ctx 16384',
    '>',
    '',
  ].join('\n'),
  // The layouts `mpl fmt` writes: exploded lists with comments and trailing
  // commas, aligned trailing comments, empty blocks, quotes escaped in a
  // triple-quoted string.
  'snippet-formatted': [
    'profile empty < >',
    '',
    'model m from "x" <  # opener',
    '  adapter "./a.gguf"  # one',
    '  use p               # two',
    '  stop [  # opener',
    '    "a",  # one',
    '    # own line',
    '    "b",',
    '  ]  # after',
    '  system """',
    'say ""hi""',
    'and \\""" done\\""""',
    '  num_ctx 8192',
    '  when task in [',
    '    a,  # first',
    '    b,',
    '  ] <',
    '    top_k 1',
    '  >',
    '>  # closer',
    '',
  ].join('\n'),
  'snippet-when-list': [
    'profile p extends base <',
    '  temperature 0.7',
    '  when task in [review,',
    '                docs,   # a comment inside the list',
    '                explain,',
    '  ] <',
    '    temperature 0.2',
    '  >',
    '  when task is debug < top_k 10 >',
    '>',
    '',
  ].join('\n'),
  'snippet-values': [
    'profile values <',
    '  "A description"',
    '  stop += "x"',
    '  stop ["<|im_end|>", "</s>"]',
    '  stop [',
    '    "a",  # first',
    '    "b",',
    '  ]',
    '  seed -1; temperature +.5; tfs_z 1.; mirostat_eta 1e-3; num_ctx 32768',
    '  use_mmap true; numa false',
    '  unset top_k, min_p',
    '  top_k 40; min_p 0.1  # c',
    '>',
    '',
  ].join('\n'),
  'snippet-model-body': [
    'model meton-custom from "qwen2.5-coder:7b" <',
    '  adapter "./adapters/meton-lora.gguf"',
    '  use precise for debug',
    '  system "You are Meton."',
    '  template "{{ .Prompt }}"',
    '  message system "Be brief."; message user "Is Toronto in Canada?"',
    '  message assistant "yes"; message tool "{}"',
    '  license "MIT"',
    '  requires "0.14.0"',
    '>',
    '',
  ].join('\n'),
  'snippet-strings-and-comments': [
    'profile s <  # a comment after a header',
    '  stop "a # b"   # only this is a comment',
    '  stop "ok: \\\\ \\" \\n \\r \\t \\0 \\u00e9 \\u{1F600}"',
    '  stop "bad: \\q \\u12 \\x"',
    '  stop ""; stop "<>;[]"',
    '  # a comment-only line',
    '>',
    '',
  ].join('\n'),
};

function snapshotPath(name) {
  return path.join(SNAPSHOT_DIR, name + SNAPSHOT_SUFFIX);
}

/** A short line diff for the failure message (the snapshots are small). */
function lineDiff(expected, actual) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i += 1;
      j += 1;
    } else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(`- ${a[i]}`);
      i += 1;
    } else {
      out.push(`+ ${b[j]}`);
      j += 1;
    }
  }
  const shown = out.slice(0, 40);
  if (out.length > shown.length) shown.push(`… and ${out.length - shown.length} more changed lines`);
  return shown.join('\n');
}

function checkSnapshot(name, actual) {
  const file = snapshotPath(name);
  const relative = path.relative(EXTENSION_DIR, file);
  if (UPDATE) {
    fs.mkdirSync(SNAPSHOT_DIR, { recursive: true });
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n') : null;
    if (old !== actual) fs.writeFileSync(file, actual);
    return;
  }
  if (!fs.existsSync(file)) {
    assert.fail(`snapshot ${relative} is missing: run \`UPDATE_SNAPSHOTS=1 npm test\` in editors/vscode, review it and commit it`);
  }
  const expected = fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
  if (expected !== actual) {
    assert.fail(
      `scopes differ from ${relative} (- snapshot, + now):\n${lineDiff(expected, actual)}\n` +
        'if the change is intended, run `UPDATE_SNAPSHOTS=1 npm test` in editors/vscode and commit the snapshot'
    );
  }
}

function exampleFiles() {
  if (!fs.existsSync(EXAMPLES_DIR)) return [];
  return fs
    .readdirSync(EXAMPLES_DIR)
    .filter((name) => name.endsWith('.mprof'))
    .sort();
}

const EXAMPLES = exampleFiles();
const SNAPSHOT_NAMES = new Set([...Object.keys(SNIPPETS), ...EXAMPLES.map((file) => path.basename(file, '.mprof'))]);

test('snippet and example names do not collide', () => {
  const clashes = EXAMPLES.filter((file) => Object.hasOwn(SNIPPETS, path.basename(file, '.mprof')));
  assert.deepEqual(clashes, [], 'an example is named like a snippet; rename the snippet');
});

for (const [name, text] of Object.entries(SNIPPETS)) {
  test(`snapshot ${name}`, async () => {
    const { tokens, stack } = await tokenize(text);
    assert.equal(stack.depth, 1, `${name}: a block, list or string is still open at the end`);
    checkSnapshot(name, dump(tokens));
  });
}

for (const file of EXAMPLES) {
  const name = path.basename(file, '.mprof');
  test(`snapshot examples/${file}`, async () => {
    const text = fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8');
    const { tokens, stack } = await tokenize(text);
    assert.equal(stack.depth, 1, `examples/${file}: a block, list or string is still open at the end of the file`);
    const invalid = tokens.filter((t) => t.scopes.some((scope) => scope.startsWith('invalid.')));
    assert.deepEqual(
      invalid.map((t) => `${t.line}:${t.start} ${quote(t.text)}`),
      [],
      `examples/${file} has tokens scoped invalid.*`
    );
    checkSnapshot(name, dump(tokens));
  });
}

test('no snapshot is left without an example or a snippet', () => {
  if (!fs.existsSync(SNAPSHOT_DIR)) return;
  const orphans = fs
    .readdirSync(SNAPSHOT_DIR)
    .filter((file) => file.endsWith(SNAPSHOT_SUFFIX))
    .filter((file) => !SNAPSHOT_NAMES.has(file.slice(0, -SNAPSHOT_SUFFIX.length)));
  if (UPDATE) {
    for (const file of orphans) fs.unlinkSync(path.join(SNAPSHOT_DIR, file));
    return;
  }
  assert.deepEqual(orphans, [], 'stale snapshots: run `UPDATE_SNAPSHOTS=1 npm test` to delete them');
});

// -- direct assertions ------------------------------------------------------------------

const P = '.mprof';

test('parameters and numbers', async () => {
  const text = 'profile precise <\n  temperature 0.0\n  top_k 40; min_p 0.1\n  seed -1\n>\n';
  await expectScopes(text, 'temperature', ['meta.block' + P, 'variable.parameter' + P]);
  await expectScopes(text, '0.0', ['meta.block' + P, 'constant.numeric' + P]);
  await expectScopes(text, 'min_p', ['variable.parameter' + P]);
  await expectScopes(text, ';', ['punctuation.separator' + P]);
  await expectScopes(text, '-1', ['constant.numeric' + P]);
  await expectScopes(text, '<', ['meta.block' + P, 'punctuation.section.block.begin' + P]);
  await expectScopes(text, '>', ['meta.block' + P, 'punctuation.section.block.end' + P]);
  // A parameter name is recognised only where a statement starts.
  const value = await scopesOf('profile p < num_ctx 4096 >', '4096');
  assert.ok(!value.scopes.includes('variable.parameter' + P));
});

test('comments end the line, but not inside strings', async () => {
  const text = 'profile p <\n  top_k 40 # c\n  stop "a # b"\n>\n';
  await expectScopes(text, '#', ['comment.line.number-sign' + P, 'punctuation.definition.comment' + P]);
  await expectWithin(text, ' c', 'comment.line.number-sign' + P);
  await expectScopes(text, '40', ['constant.numeric' + P]);
  const inString = await expectWithin(text, '#', 'string.quoted.double' + P, 2);
  assert.ok(!inString.scopes.some((s) => s.startsWith('comment.')), `# in a string is a comment: ${inString.scopes}`);
  // `>` after the string still closes the block.
  await expectScopes(text, '>', ['punctuation.section.block.end' + P]);
});

test('a one-line profile with extends, for and two statements', async () => {
  const text = 'profile debugging extends precise for debug < mirostat 2; top_k 20 >';
  await expectScopes(text, 'profile', ['storage.type.profile' + P]);
  await expectScopes(text, 'debugging', ['entity.name.type.profile' + P]);
  await expectScopes(text, 'extends', ['keyword.control' + P]);
  await expectScopes(text, 'precise', ['entity.other.inherited-class.profile' + P]);
  await expectScopes(text, 'for', ['keyword.control' + P]);
  await expectScopes(text, 'debug', ['variable.other.enummember.task' + P], 2);
  await expectScopes(text, 'mirostat', ['meta.block' + P, 'variable.parameter' + P]);
  await expectScopes(text, '2', ['meta.block' + P, 'constant.numeric' + P]);
  await expectScopes(text, 'top_k', ['meta.block' + P, 'variable.parameter' + P]);
  await expectScopes(text, '20', ['constant.numeric' + P]);
  await expectScopes(text, '>', ['meta.block' + P, 'punctuation.section.block.end' + P]);
});

test('a multi-line triple-quoted string keeps its scope and its escapes', async () => {
  const text = 'model m from base <\n  system """\nline one # no comment > no block end\nA tab:\\t and \\q\n"""\n  num_ctx 2048\n>\n';
  await expectScopes(text, '"""', ['string.quoted.triple' + P, 'punctuation.definition.string.begin' + P]);
  await expectWithin(text, 'line one # no comment > no block end', 'string.quoted.triple' + P);
  await expectScopes(text, '\\t', ['string.quoted.triple' + P, 'constant.character.escape' + P]);
  await expectScopes(text, '\\q', ['string.quoted.triple' + P, 'invalid.illegal.escape' + P]);
  await expectScopes(text, '"""', ['string.quoted.triple' + P, 'punctuation.definition.string.end' + P], 2);
  await expectScopes(text, 'num_ctx', ['meta.block' + P, 'variable.parameter' + P]);
  await expectScopes(text, 'system', ['keyword.other.instruction' + P]);
});

test('quotes escaped next to the end of a triple-quoted string do not end it', async () => {
  const text = 'model m from x <\n  system """\nsay ""hi""\nand \\""" done\\""""\n  num_ctx 1\n>\n';
  await expectScopes(text, '\\"', ['string.quoted.triple' + P, 'constant.character.escape' + P]);
  await expectScopes(text, '\\"', ['string.quoted.triple' + P, 'constant.character.escape' + P], 2);
  await expectScopes(text, '"""', ['string.quoted.triple' + P, 'punctuation.definition.string.end' + P], 4); // 2 and 3 overlap the escapes
  await expectScopes(text, 'num_ctx', ['meta.block' + P, 'variable.parameter' + P]);
  await expectScopes(text, '>', ['meta.block' + P, 'punctuation.section.block.end' + P]);
});

test('an empty block and a trailing comma in a list', async () => {
  await expectScopes('profile empty < >', '<', ['meta.block' + P, 'punctuation.section.block.begin' + P]);
  await expectScopes('profile empty < >', '>', ['meta.block' + P, 'punctuation.section.block.end' + P]);
  const text = 'profile p <\n  stop [\n    "a",\n  ]\n  top_k 1\n>\n';
  await expectScopes(text, ',', ['meta.list' + P, 'punctuation.separator' + P]);
  await expectScopes(text, ']', ['meta.list' + P, 'punctuation.section.brackets.end' + P]);
  await expectScopes(text, 'top_k', ['meta.block' + P, 'variable.parameter' + P]);
});

test('string escapes', async () => {
  const text = 'profile p < stop "\\\\ \\" \\n \\u00e9 \\u{1F600} \\q \\u12" >';
  for (const escape of ['\\\\', '\\"', '\\n', '\\u00e9', '\\u{1F600}']) {
    await expectScopes(text, escape, ['string.quoted.double' + P, 'constant.character.escape' + P]);
  }
  await expectScopes(text, '\\q', ['string.quoted.double' + P, 'invalid.illegal.escape' + P]);
  await expectScopes(text, '\\u', ['string.quoted.double' + P, 'invalid.illegal.escape' + P], 3);
  await expectScopes(text, '>', ['punctuation.section.block.end' + P]);
});

test('when task in a list spanning lines', async () => {
  const text = 'profile p <\n  when task in [a,\n    b] < temperature 1 >\n>\n';
  await expectScopes(text, 'when', ['keyword.control' + P]);
  await expectScopes(text, 'task', ['keyword.control' + P]);
  await expectScopes(text, 'in', ['keyword.control' + P]);
  await expectScopes(text, 'a', ['meta.list' + P, 'variable.other.enummember.task' + P], 2);
  await expectScopes(text, 'b', ['meta.list' + P, 'variable.other.enummember.task' + P]);
  await expectScopes(text, ']', ['meta.list' + P, 'punctuation.section.brackets.end' + P]);
  await expectScopes(text, 'temperature', ['meta.block' + P, 'meta.block' + P, 'variable.parameter' + P]);
});

test('append, unset, booleans and lists', async () => {
  const text = 'profile p <\n  stop += "x"\n  unset top_k, min_p\n  use_mmap true\n  stop ["a", "b"]\n>\n';
  await expectScopes(text, 'stop', ['variable.parameter' + P]);
  await expectScopes(text, '+=', ['keyword.operator.assignment' + P]);
  await expectScopes(text, 'unset', ['keyword.other.unset' + P]);
  await expectScopes(text, 'min_p', ['variable.parameter' + P]);
  await expectScopes(text, ',', ['punctuation.separator' + P]);
  await expectScopes(text, 'true', ['constant.language.boolean' + P]);
  await expectScopes(text, '[', ['meta.list' + P, 'punctuation.section.brackets.begin' + P]);
});

test('declarations and model bodies', async () => {
  const text = [
    'ollama "0.12"',
    'tasks general, debug',
    'default precise',
    'model "ns/m:7b" from base < use precise for debug; message system "x"; adapter "a.gguf" >',
  ].join('\n');
  await expectScopes(text, 'ollama', ['keyword.other.declaration' + P]);
  await expectScopes(text, 'tasks', ['keyword.other.declaration' + P]);
  await expectScopes(text, 'general', ['variable.other.enummember.task' + P]);
  await expectScopes(text, 'default', ['keyword.other.declaration' + P]);
  await expectScopes(text, 'precise', ['entity.name.type.profile' + P]);
  await expectScopes(text, 'model', ['storage.type.model' + P]);
  await expectScopes(text, 'ns/m:7b', ['string.quoted.double' + P, 'entity.name.function.model' + P]);
  await expectScopes(text, 'from', ['keyword.control' + P]);
  await expectScopes(text, 'base', ['entity.other.inherited-class.model' + P]);
  await expectScopes(text, 'use', ['keyword.other.instruction' + P]);
  await expectScopes(text, 'precise', ['entity.name.type.profile' + P], 2);
  await expectScopes(text, 'debug', ['variable.other.enummember.task' + P], 2);
  await expectScopes(text, 'message', ['keyword.other.instruction' + P]);
  await expectScopes(text, 'system', ['variable.language.role' + P]);
  await expectScopes(text, 'adapter', ['keyword.other.instruction' + P]);
  await expectScopes('model meton-custom from "x"', 'meton-custom', ['entity.name.function.model' + P]);
});

test('every keyword of the language grammar is highlighted as a keyword, never as a parameter', async (t) => {
  if (!fs.existsSync(LARK_GRAMMAR)) {
    t.skip(`${LARK_GRAMMAR} not found`);
    return;
  }
  const lark = fs.readFileSync(LARK_GRAMMAR, 'utf8').replace(/\/\/.*$/gm, '');
  const keywords = [...new Set([...lark.matchAll(/"([A-Za-z_][A-Za-z0-9_-]*)"/g)].map((m) => m[1]))].sort();
  assert.ok(keywords.length >= 20, `found only ${keywords.length} keywords in ${LARK_GRAMMAR}`);
  const keywordScope = /^(keyword|storage\.type|constant\.language)\.[a-z.-]*mprof$/;
  for (const word of keywords) {
    for (const [before, after] of [['', '\n'], ['profile p <\n  ', '\n>\n'], ['profile p < top_k 1; ', ' >']]) {
      const text = before + word + after;
      const token = await scopesOf(text, word, before.split(word).length);
      assert.equal(token.text, word, `${word} in ${JSON.stringify(text)} is not a token of its own`);
      const inner = token.scopes[token.scopes.length - 1];
      assert.match(inner, keywordScope, `keyword ${word} in ${JSON.stringify(text)} is scoped ${token.scopes.join(' ')}`);
    }
  }
  // A name that merely starts with a keyword is a parameter.
  await expectScopes('profile p <\n  system_prompt 1\n  in-flight 2\n>', 'system_prompt', ['variable.parameter' + P]);
  await expectScopes('profile p <\n  system_prompt 1\n  in-flight 2\n>', 'in-flight', ['variable.parameter' + P]);
});
