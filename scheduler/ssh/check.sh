# Sluice node check: what a worker needs, read without changing anything there (a test file or folder made in
# the workdir is removed at once). Args: WORKDIR. Prints `key=value` lines; node_check.py judges them.
set -u
d=$1
case $d in "~") d=$HOME ;; "~/"*) d="$HOME/${d#"~/"}" ;; esac
echo "user=$(id -un 2>/dev/null)"
echo "sh=$(command -v sh)"
echo "setsid=$(command -v setsid 2>/dev/null)"
if [ -r /proc/self/stat ]; then echo "proc=yes"; else echo "proc=no"; fi
echo "workdir=$d"
# The workdir itself if it exists, else its nearest existing folder, which the first launch creates it under.
p=$d
while [ ! -e "$p" ] && [ "$p" != "/" ]; do p=$(dirname "$p"); done
echo "existing=$p"
if [ ! -d "$p" ]; then
  echo "writable=no: $p is not a directory"
elif [ "$p" = "$d" ]; then
  t="$d/.sluice-check.$$"
  if (: >"$t") 2>/dev/null; then rm -f "$t"; echo "writable=yes"; else echo "writable=no: cannot create a file in $d"; fi
else
  t="$p/.sluice-check.$$"
  if mkdir "$t" 2>/dev/null; then rmdir "$t"; echo "writable=yes"; else echo "writable=no: cannot create $d under $p"; fi
fi
if [ -d "$p" ]; then echo "free_kb=$(df -Pk "$p" 2>/dev/null | awk 'NR == 2 { print $4 }')"; fi
