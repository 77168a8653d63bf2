// External scanner for tree-sitter-rasp.
//
// One token: `_set_end`, the zero-width `;` that the project's lexer
// (`terminate_set_example` in src/syntax/lexer.rs) inserts after the value of
// `set [s-op|selector] example E` when the command has no `;`: at the first
// line break after a complete operand, before a statement keyword, or at the
// end of the input. The parser only asks for it where the command can end
// (after a complete expression, outside brackets), so the scanner only has to
// look at what follows.

#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <string.h>

enum TokenType {
  SET_END,
  ERROR_SENTINEL,
};

void *tree_sitter_rasp_external_scanner_create(void) { return NULL; }

void tree_sitter_rasp_external_scanner_destroy(void *payload) { (void)payload; }

unsigned tree_sitter_rasp_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}

void tree_sitter_rasp_external_scanner_deserialize(void *payload, const char *buffer,
                                                   unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_word_start(int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word_char(int32_t c) { return is_word_start(c) || (c >= '0' && c <= '9'); }

static bool is_blank(int32_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Consumes `text` if the input continues with it.
static bool consume(TSLexer *lexer, const char *text) {
  for (; *text; text++) {
    if (lexer->lookahead != (int32_t)(unsigned char)*text) return false;
    lexer->advance(lexer, false);
  }
  return true;
}

// Consumes one or more blanks.
static bool consume_blanks(TSLexer *lexer) {
  if (!is_blank(lexer->lookahead)) return false;
  while (is_blank(lexer->lookahead)) lexer->advance(lexer, false);
  return true;
}

// Whether the input continues with a keyword that can only start a
// statement or a REPL command (`Token::starts_statement` in the lexer).
static bool at_statement_keyword(TSLexer *lexer) {
  static const char *const KEYWORDS[] = {
      "set", "show", "examples", "selector", "exit", "quit",
      "def", "for",  "load",     "draw",     "return",
  };
  char word[16];
  unsigned length = 0;
  if (!is_word_start(lexer->lookahead)) return false;
  while (is_word_char(lexer->lookahead)) {
    if (length < sizeof word - 1) word[length] = (char)lexer->lookahead;
    length++;
    lexer->advance(lexer, false);
  }
  if (length >= sizeof word) return false;
  word[length] = '\0';
  // `s-op` and `full seq display` are single tokens (longest match).
  if (strcmp(word, "s") == 0) return consume(lexer, "-op");
  if (strcmp(word, "full") == 0) {
    return consume_blanks(lexer) && consume(lexer, "seq") && consume_blanks(lexer) &&
           consume(lexer, "display");
  }
  for (unsigned i = 0; i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++) {
    if (strcmp(word, KEYWORDS[i]) == 0) return true;
  }
  return false;
}

bool tree_sitter_rasp_external_scanner_scan(void *payload, TSLexer *lexer,
                                            const bool *valid_symbols) {
  (void)payload;
  if (valid_symbols[ERROR_SENTINEL] || !valid_symbols[SET_END]) return false;

  lexer->result_symbol = SET_END;
  lexer->mark_end(lexer);  // zero width, right after the value
  for (;;) {
    if (lexer->eof(lexer)) return true;
    switch (lexer->lookahead) {
      case '\n':
      case '#':  // a comment runs to the end of the line
        return true;
      case ' ':
      case '\t':
      case '\r':
      case 0xFEFF:
        lexer->advance(lexer, true);
        break;
      case ';':
        return false;  // the command's own `;`
      default:
        return at_statement_keyword(lexer);
    }
  }
}
