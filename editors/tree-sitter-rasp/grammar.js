/**
 * @file Tree-sitter grammar for RASP, the language of "Thinking Like Transformers".
 * @license MIT OR Apache-2.0
 *
 * Mirrors the project's own parser: the logos lexer in `src/syntax/lexer.rs`
 * and the LALRPOP grammar in `grammar/rasp.lalrpop` (see also
 * `docs/rasp-language.md`, sections 2-4). In particular:
 *
 * - `select(`, `aggregate(`, `range(`, `zip(`, `len(`, `exit()`, `quit()`
 *   and `s-op` are single tokens; `full seq display` is one token whose
 *   parts are separated by whitespace.
 * - Precedence, from loosest to tightest: `in`, `a if c else b` (grouping to
 *   the left, the condition a full expression), `and`/`or` (one level),
 *   comparisons, `+ -`, `%`, `* /`, `^`, prefix `not - +`, postfix
 *   `e[i]` / `e(args)`. Every binary level is left-associative.
 * - REPL commands are top-level statements. Their `;` is optional, except
 *   after `set [s-op|selector] example E`, where the external scanner
 *   (`src/scanner.c`) stands in for the `;` the project's lexer inserts at a
 *   line break, before a statement keyword or at the end of the input.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const PREC = {
  in: 1,
  conditional: 2,
  logic: 3,
  compare: 4,
  sum: 5,
  mod: 6,
  product: 7,
  power: 8,
  prefix: 9,
  postfix: 10,
};

/**
 * One or more `rule`s separated by commas (no trailing comma).
 * @param {RuleOrLiteral} rule
 */
function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}

/**
 * Zero or more `rule`s separated by commas (no trailing comma).
 * @param {RuleOrLiteral} rule
 */
function commaSep(rule) {
  return optional(commaSep1(rule));
}

module.exports = grammar({
  name: 'rasp',

  word: $ => $.identifier,

  extras: $ => [/[ \t\r\n\uFEFF]/, $.comment],

  externals: $ => [
    // The `;` the project's lexer inserts after `set ... example E`.
    $._set_end,
    // Never used by the grammar: valid only during error recovery.
    $._error_sentinel,
  ],

  supertypes: $ => [$._statement, $._expression],

  // Keywords are never names (the project's lexer has no contextual
  // keywords): `on = 1;` is an error, not an assignment.
  reserved: {
    global: _ => [
      'def', 'return', 'for', 'in', 'if', 'else', 'and', 'or', 'not',
      'load', 'draw', 'round', 'indicator',
      'set', 'show', 'example', 'examples', 'selector', 'on', 'off',
      'exit', 'quit',
    ],
  },

  rules: {
    source_file: $ => repeat($._top_item),

    _top_item: $ => choice(
      $._statement,
      $._command,
      // An empty statement (also the optional `;` after a REPL command).
      ';',
    ),

    // ------------------------------------------------------------ statements

    _statement: $ => choice(
      $.expression_statement,
      $.assignment,
      $.function_definition,
      $.for_statement,
      $.load_statement,
      $.draw_statement,
    ),

    expression_statement: $ => seq($._expression, ';'),

    assignment: $ => seq(
      commaSep1(field('left', $.identifier)),
      '=',
      commaSep1(field('right', $._expression)),
      ';',
    ),

    function_definition: $ => seq(
      'def',
      field('name', $.identifier),
      field('parameters', $.parameters),
      field('body', $.block),
    ),

    parameters: $ => seq('(', commaSep($.identifier), ')'),

    for_statement: $ => seq(
      'for',
      commaSep1(field('left', $.identifier)),
      'in',
      field('right', $._expression),
      field('body', $.block),
    ),

    load_statement: $ => seq('load', field('path', $.string), ';'),

    draw_statement: $ => seq(
      'draw',
      '(',
      field('sop', $._expression),
      optional(seq(',', field('input', $._expression))),
      ')',
      ';',
    ),

    block: $ => seq(
      '{',
      repeat(choice($._statement, $.return_statement, ';')),
      '}',
    ),

    return_statement: $ => seq(
      'return',
      commaSep1(field('value', $._expression)),
      ';',
    ),

    // ---------------------------------------------------------- REPL commands

    _command: $ => choice(
      $.set_example_command,
      $.show_example_command,
      $.examples_command,
      $.full_seq_display_command,
      $.exit_command,
    ),

    set_example_command: $ => seq(
      'set',
      optional(field('target', $.example_target)),
      'example',
      field('value', $._expression),
      choice(';', $._set_end),
    ),

    show_example_command: $ => seq(
      'show',
      optional(field('target', $.example_target)),
      'example',
    ),

    examples_command: $ => seq(
      optional(field('target', $.example_target)),
      'examples',
      field('state', $.switch),
    ),

    full_seq_display_command: $ => seq(
      alias($._full_seq_display, 'full seq display'),
      field('state', $.switch),
    ),

    // `full`, `seq` and `display` separated by any whitespace (one token).
    _full_seq_display: _ => token(/full[ \t\r\n]+seq[ \t\r\n]+display/),

    exit_command: _ => choice('exit', 'exit()', 'quit', 'quit()'),

    example_target: _ => choice('s-op', 'selector'),

    switch: _ => choice('on', 'off'),

    // ------------------------------------------------------------ expressions

    _expression: $ => choice(
      $.identifier,
      $.integer,
      $.float,
      $.string,
      $.parenthesized_expression,
      $.list,
      $.list_comprehension,
      $.dictionary,
      $.dictionary_comprehension,
      $.select_expression,
      $.builtin_call,
      $.call,
      $.subscript,
      $.unary_expression,
      $.binary_expression,
      $.conditional_expression,
    ),

    parenthesized_expression: $ => seq('(', $._expression, ')'),

    list: $ => seq('[', commaSep($._expression), ']'),

    list_comprehension: $ => seq(
      '[',
      field('body', $._expression),
      'for',
      commaSep1(field('left', $.identifier)),
      'in',
      field('right', $._expression),
      ']',
    ),

    dictionary: $ => seq('{', commaSep($.pair), '}'),

    pair: $ => seq(
      field('key', $._expression),
      ':',
      field('value', $._expression),
    ),

    dictionary_comprehension: $ => seq(
      '{',
      field('body', $.pair),
      'for',
      commaSep1(field('left', $.identifier)),
      'in',
      field('right', $._expression),
      '}',
    ),

    // `select(keys, queries, op)`: the only place `!=` is allowed.
    select_expression: $ => seq(
      'select(',
      field('keys', $._expression),
      ',',
      field('queries', $._expression),
      ',',
      field('operator', choice('==', '!=', '<', '>', '<=', '>=')),
      ')',
    ),

    builtin_call: $ => choice(
      seq(
        field('function', choice('aggregate(', 'range(', 'zip(', 'len(')),
        commaSep(field('argument', $._expression)),
        ')',
      ),
      seq(
        field('function', choice('round', 'indicator')),
        '(',
        field('argument', $._expression),
        ')',
      ),
    ),

    call: $ => prec(PREC.postfix, seq(
      field('function', $._expression),
      field('arguments', $.argument_list),
    )),

    argument_list: $ => seq('(', commaSep($._expression), ')'),

    subscript: $ => prec(PREC.postfix, seq(
      field('value', $._expression),
      '[',
      field('index', $._expression),
      ']',
    )),

    unary_expression: $ => prec(PREC.prefix, seq(
      field('operator', choice('not', '-', '+')),
      field('operand', $._expression),
    )),

    binary_expression: $ => {
      /** @type {[RuleOrLiteral, number][]} */
      const table = [
        ['^', PREC.power],
        ['*', PREC.product],
        ['/', PREC.product],
        ['%', PREC.mod],
        ['+', PREC.sum],
        ['-', PREC.sum],
        ['==', PREC.compare],
        ['<=', PREC.compare],
        ['>=', PREC.compare],
        ['<', PREC.compare],
        ['>', PREC.compare],
        ['and', PREC.logic],
        ['or', PREC.logic],
        ['in', PREC.in],
      ];
      return choice(...table.map(([operator, precedence]) => prec.left(precedence, seq(
        field('left', $._expression),
        field('operator', operator),
        field('right', $._expression),
      ))));
    },

    // `a if c1 else b if c2 else d` is `(a if c1 else b) if c2 else d`.
    conditional_expression: $ => prec.left(PREC.conditional, seq(
      field('consequence', $._expression),
      'if',
      field('condition', $._expression),
      'else',
      field('alternative', $._expression),
    )),

    // --------------------------------------------------------------- tokens

    identifier: _ => /[a-zA-Z_][a-zA-Z_0-9]*/,

    integer: _ => /[0-9]+/,

    float: _ => /[0-9]+\.[0-9]+/,

    // Double quotes only, on one line, no escape sequences.
    string: _ => /"[^"\r\n]*"/,

    comment: _ => token(seq('#', /[^\n]*/)),
  },
});
