" Headless test of the Vim support (ftdetect, ftplugin, indent, syntax).
" Run from anywhere:  vim -Nu NONE -i NONE -es -S editors/vim/test/test.vim
" Prints one line per failure and a summary; exits non-zero on failure.
let s:here = expand('<sfile>:p:h')
let s:root = fnamemodify(s:here, ':h')
let &runtimepath = s:root . ',' . &runtimepath
filetype plugin indent on
syntax on
let s:errors = []
let s:count = 0
function! s:Eq(got, want, what) abort
  let s:count += 1
  if a:got !=# a:want
    call add(s:errors, a:what . ': got ' . string(a:got) . ', want ' . string(a:want))
  endif
endfunction

let s:dir = tempname()
call mkdir(s:dir)
let s:file = s:dir . '/bad file.rasp'
call writefile(['x = 1 +;', 'y = 2;'], s:file)
execute 'edit' fnameescape(s:file)

" ftdetect and ftplugin
call s:Eq(&filetype, 'rasp', 'filetype of *.rasp')
call s:Eq(&l:commentstring, '# %s', 'commentstring')
call s:Eq(&l:comments, ':#', 'comments')
call s:Eq([&l:shiftwidth, &l:softtabstop, &l:expandtab], [4, 4, 1], 'shiftwidth softtabstop expandtab')
call s:Eq(&l:makeprg, 'rasp check --format short %:S', 'makeprg')
call s:Eq(&l:include, '\<load\s*"', 'include')
call s:Eq(b:current_syntax, 'rasp', 'syntax')

" :make with a stand-in rasp: the quickfix list parses the short format
" (and the file name has a space in it).
let &l:makeprg = s:here . '/fake-rasp check --format short %:S'
set shellpipe=>
silent make!
let s:qf = getqflist()
call s:Eq(len(s:qf), 2, 'quickfix entries')
if len(s:qf) == 2
  call s:Eq([bufname(s:qf[0].bufnr), s:qf[0].lnum, s:qf[0].col, s:qf[0].type, s:qf[0].valid],
        \ [s:file, 1, 8, 'e', 1], 'error entry: file line col type')
  call s:Eq(s:qf[0].text, '[rasp::parse::unexpected_token]: unexpected `;`, expected an expression', 'error text')
  call s:Eq([s:qf[1].lnum, s:qf[1].col, s:qf[1].type], [2, 5, 'w'], 'warning entry: line col type')
  call s:Eq(s:qf[1].text, '[rasp::name::unused]: `y` is never used', 'warning text')
endif

" indent: = over a badly indented program gives 4-space levels.
let s:src = [
      \ 'def f(a, b) {',
      \ 'x = a + b;',
      \ '# a comment',
      \ 'for i in range(3) {',
      \ 'x = x + i; # { not counted',
      \ 'y = "}";',
      \ '}',
      \ 'z = g(x,',
      \ 'y);',
      \ 'return [x,',
      \ 'z];',
      \ '}',
      \ 'h = f(1, 2);',
      \ 'def one() { return 1; }',
      \ 'k = 3;',
      \ ]
let s:want = [
      \ 'def f(a, b) {',
      \ '    x = a + b;',
      \ '    # a comment',
      \ '    for i in range(3) {',
      \ '        x = x + i; # { not counted',
      \ '        y = "}";',
      \ '    }',
      \ '    z = g(x,',
      \ '        y);',
      \ '    return [x,',
      \ '        z];',
      \ '}',
      \ 'h = f(1, 2);',
      \ 'def one() { return 1; }',
      \ 'k = 3;',
      \ ]
silent %delete _
call setline(1, s:src)
normal! gg=G
call s:Eq(getline(1, '$'), s:want, 'indent')

" syntax: the group at a line and column.
silent %delete _
call setline(1, [
      \ 'hist = selector_width(select(tokens, tokens, ==)) + contains(tokens, "a");',
      \ 'def f(x) { return x if not x else 1.5; }  # a "comment"',
      \ '# test compile: hist vocab=abc max_len=5',
      \ 'set s-op example "hey"',
      \ 'z = select (a, b, ==);',
      \ ])
function! s:Syn(lnum, col) abort
  return synIDattr(synID(a:lnum, a:col, 1), 'name')
endfunction
for [s:l, s:c, s:group] in [
      \ [1, 8, 'raspLibrary'], [1, 23, 'raspForm'], [1, 30, 'raspBuiltin'],
      \ [1, 47, 'raspOperator'], [1, 54, 'raspLibrary'], [1, 71, 'raspString'],
      \ [2, 1, 'raspKeyword'], [2, 12, 'raspKeyword'], [2, 21, 'raspKeyword'],
      \ [2, 35, 'raspNumber'], [2, 43, 'raspComment'], [2, 48, 'raspComment'],
      \ [3, 3, 'raspTestDecl'], [3, 8, 'raspTestDecl'], [3, 20, 'raspComment'],
      \ [4, 1, 'raspRepl'], [4, 5, 'raspRepl'], [4, 10, 'raspRepl'],
      \ [5, 5, ''],
      \ ]
  call s:Eq(s:Syn(s:l, s:c), s:group, printf('syntax at %d:%d (%s)', s:l, s:c, getline(s:l)[s:c - 1 : s:c + 4]))
endfor

" b:undo_ftplugin restores the options.
execute b:undo_ftplugin
call s:Eq(&makeprg, &g:makeprg, 'makeprg after b:undo_ftplugin')
call s:Eq(&errorformat, &g:errorformat, 'errorformat after b:undo_ftplugin')
call s:Eq(&l:commentstring, &g:commentstring, 'commentstring after b:undo_ftplugin')

call delete(s:dir, 'rf')
" (In Ex silent mode :echo prints nothing: write to stdout.)
call writefile(map(copy(s:errors), '"FAIL " . v:val')
      \ + [printf('vim: %d/%d checks passed', s:count - len(s:errors), s:count)], '/dev/stdout', 'a')
execute (empty(s:errors) ? 'qall!' : 'cquit!')
