" Vim indent file
" Language: RASP
" One level more after a line that leaves a bracket open (`{` of a def or a
" for body, or a `(`/`[` continued on the next line), one level less for a
" line that starts by closing one.
if exists("b:did_indent")
  finish
endif
let b:did_indent = 1

setlocal indentexpr=GetRaspIndent(v:lnum)
setlocal indentkeys=0{,0},0),0],!^F,o,O,e
setlocal autoindent

let b:undo_indent = "setlocal indentexpr< indentkeys< autoindent<"

if exists("*GetRaspIndent")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" The line without its strings and its comment.
function! s:Code(lnum) abort
  return substitute(substitute(getline(a:lnum), '"[^"]*"', '""', 'g'), '#.*$', '', '')
endfunction

" How many brackets a line's code opens, less how many it closes (not
" counting the closers it starts with: they already dedented the line).
function! s:Balance(lnum) abort
  let code = substitute(s:Code(a:lnum), '^\s*[])}]*', '', '')
  return len(substitute(code, '[^[({]', '', 'g')) - len(substitute(code, '[^])}]', '', 'g'))
endfunction

function! GetRaspIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  " Skip whole-line comments above.
  while prev > 0 && getline(prev) =~ '^\s*#'
    let prev = prevnonblank(prev - 1)
  endwhile
  if prev == 0
    return 0
  endif
  let ind = indent(prev)
  let balance = s:Balance(prev)
  if balance > 0
    let ind += shiftwidth()
  elseif balance < 0
    let ind -= shiftwidth()
  endif
  if getline(a:lnum) =~ '^\s*[])}]'
    let ind -= shiftwidth()
  endif
  return max([ind, 0])
endfunction

let &cpo = s:cpo_save
unlet s:cpo_save
