" Vim syntax file
" Language: RASP (Restricted Access Sequence Processing, "Thinking Like Transformers")
if exists("b:current_syntax")
  finish
endif

syn keyword raspKeyword def return for in if else and or not load draw
syn keyword raspRepl set show example examples selector on off exit quit
syn match raspRepl "\<s-op\>"
syn match raspRepl "\<full\s\+seq\s\+display\>"
syn match raspForm "\<\(select\|aggregate\|range\|zip\|len\)("me=e-1
syn keyword raspForm round indicator
syn keyword raspBuiltin tokens indices length tokens_str tokens_int tokens_float tokens_bool tokens_asis
syn keyword raspConstant True False
syn keyword raspLibrary full_s selector_width numerical categorical has_focus count max min average load_from_location shift mark_last_instance mark_first_instance select_from_last select_from_first sort select_next_identical
" `contains` is an argument of :syn keyword, so it is a match.
syn match raspLibrary "\<contains\>"
syn match raspNumber "\<\d\+\(\.\d\+\)\=\>"
syn region raspString start=+"+ end=+"+ oneline
syn match raspOperator "==\|!=\|<=\|>=\|[<>+\-*/%^=]"
syn match raspComment "#.*$" contains=raspTestDecl
" A test declaration of `rasp test`: # test: ..., # test sops: ..., # test compile: ...
syn match raspTestDecl "^\s*#\s*\zstest\%([ \t]\+\%(sops\|compile\)\)\=:" contained

hi def link raspKeyword Keyword
hi def link raspRepl PreProc
hi def link raspForm Function
hi def link raspBuiltin Identifier
hi def link raspConstant Boolean
hi def link raspLibrary Function
hi def link raspNumber Number
hi def link raspString String
hi def link raspOperator Operator
hi def link raspComment Comment
hi def link raspTestDecl SpecialComment

let b:current_syntax = "rasp"
