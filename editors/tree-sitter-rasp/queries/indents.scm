; Indentation (nvim-treesitter conventions).

[
  (block)
  (list)
  (list_comprehension)
  (dictionary)
  (dictionary_comprehension)
  (parameters)
  (argument_list)
  (parenthesized_expression)
  (select_expression)
  (builtin_call)
] @indent.begin

[
  "}"
  "]"
  ")"
] @indent.branch @indent.end

(comment) @indent.auto
