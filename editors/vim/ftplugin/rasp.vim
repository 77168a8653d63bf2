" Vim filetype plugin
" Language: RASP (Restricted Access Sequence Processing, "Thinking Like Transformers")
" Comments, 4-space indentation, and :make running `rasp check` on the file
" (the quickfix list gets each diagnostic: FILE:LINE:COL: error[CODE]: MESSAGE).
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

setlocal commentstring=#\ %s
setlocal comments=:#
setlocal formatoptions-=t formatoptions+=croql
setlocal shiftwidth=4 softtabstop=4 expandtab
" `gf` on a load's name, and [i / [I / [d through loaded files.
setlocal suffixesadd=.rasp
setlocal include=\\<load\\s*\"

" `rasp check --format short FILE` prints one line per diagnostic:
"   FILE:LINE:COL: error[rasp::parse::unexpected_token]: MESSAGE
"   FILE:LINE:COL: warning[CODE]: MESSAGE
" The quickfix text keeps the code: "[rasp::parse::unexpected_token]: MESSAGE"
" (`rasp explain-error CODE` explains it). Other lines are dropped.
setlocal makeprg=rasp\ check\ --format\ short\ %:S
setlocal errorformat=%f:%l:%c:\ %trror%m,%f:%l:%c:\ %tarning%m,%-G%.%#

let b:undo_ftplugin = "setlocal commentstring< comments< formatoptions< shiftwidth< softtabstop< expandtab<"
      \ . " suffixesadd< include< makeprg< errorformat<"

let &cpo = s:cpo_save
unlet s:cpo_save
