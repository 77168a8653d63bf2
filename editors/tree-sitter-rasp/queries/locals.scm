; Scopes, definitions and references (nvim-treesitter conventions).
;
; A `def` body and a comprehension get their own scope; a `for` loop runs in
; the current scope (its names stay defined after the loop).

[
  (source_file)
  (function_definition)
  (list_comprehension)
  (dictionary_comprehension)
] @local.scope

(function_definition
  name: (identifier) @local.definition.function
  (#set! definition.function.scope "parent"))

(parameters
  (identifier) @local.definition.parameter)

(assignment
  left: (identifier) @local.definition.var)

(for_statement
  left: (identifier) @local.definition.var)

(list_comprehension
  left: (identifier) @local.definition.var)

(dictionary_comprehension
  left: (identifier) @local.definition.var)

(identifier) @local.reference
