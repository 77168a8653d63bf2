" *.rasp files are RASP programs.
autocmd BufRead,BufNewFile *.rasp setfiletype rasp
