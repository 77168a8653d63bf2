[
  (function_definition)
  (for_statement)
  (list)
  (list_comprehension)
  (dictionary)
  (dictionary_comprehension)
  (argument_list)
] @fold
