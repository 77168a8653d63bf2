; Syntax highlighting for RASP.
;
; Capture names follow nvim-treesitter's conventions. Where several patterns
; match a node, the later one wins (as in Neovim, Helix, Zed and the
; tree-sitter CLI): general patterns come first, the names of the language
; (builtin s-ops, the library, matched with `#any-of?`) after them.

(identifier) @variable

; ------------------------------------------------------------ comments

(comment) @comment

; ------------------------------------------------------------ literals

(string) @string

(integer) @number

(float) @number.float

; ------------------------------------------------------------ definitions and calls

(function_definition
  name: (identifier) @function)

(parameters
  (identifier) @variable.parameter)

(call
  function: (identifier) @function.call)

; ------------------------------------------------------------ names of the language

; `True` and `False` are predefined (reserved) variables, not literals.
((identifier) @boolean
  (#any-of? @boolean "True" "False"))

; The input encodings and positions.
((identifier) @variable.builtin
  (#any-of? @variable.builtin
    "tokens" "indices" "length"
    "tokens_str" "tokens_int" "tokens_float" "tokens_bool" "tokens_asis"))

; The library's selector.
((identifier) @constant.builtin
  (#eq? @constant.builtin "full_s"))

; Builtin functions and the library (stdlib/prelude.rasp).
((identifier) @function.builtin
  (#any-of? @function.builtin
    "selector_width" "numerical" "categorical"
    "has_focus" "count" "contains" "max" "min" "average"
    "load_from_location" "shift" "mark_first_instance" "mark_last_instance"
    "select_from_first" "select_from_last" "sort" "select_next_identical"))

; Reserved by the language without a definition for programs.
((identifier) @variable.builtin
  (#any-of? @variable.builtin "out" "get"))

; Builtin forms: `select(`, `aggregate(`, `range(`, `zip(`, `len(` include
; their `(`; `round` and `indicator` are keywords.
[
  "select("
  "aggregate("
  "range("
  "zip("
  "len("
  "round"
  "indicator"
] @function.builtin

; ------------------------------------------------------------ keywords

"def" @keyword.function

"return" @keyword.return

"for" @keyword.repeat

[
  "if"
  "else"
] @keyword.conditional

[
  "in"
  "and"
  "or"
  "not"
] @keyword.operator

"load" @keyword.import

"draw" @keyword

; REPL commands (also valid statements in files).
[
  "set"
  "show"
  "example"
  "examples"
  "s-op"
  "selector"
  "on"
  "off"
  "full seq display"
  "exit"
  "exit()"
  "quit"
  "quit()"
] @keyword.directive

; ------------------------------------------------------------ operators and punctuation

[
  "="
  "^"
  "*"
  "/"
  "%"
  "+"
  "-"
  "=="
  "!="
  "<="
  ">="
  "<"
  ">"
] @operator

[
  "("
  ")"
  "["
  "]"
  "{"
  "}"
] @punctuation.bracket

[
  ","
  ":"
  ";"
] @punctuation.delimiter
