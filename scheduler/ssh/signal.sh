# Sluice signal: send a signal to the process group of each attempt's job, if it is still that process.
# Args: SIGNAL, then ATTEMPT_DIRs. Prints "S dir sent|gone" per attempt.
set -u
sig=$1
shift
for d in "$@"; do
  case $d in "~/"*) d="$HOME/${d#"~/"}" ;; esac
  result=gone
  if [ -s "$d/pid" ] && [ ! -f "$d/exit" ]; then
    read -r pid start rest <"$d/pid"
    read_pid_start "$pid" || pid_start=gone
    # The start time guards against a recycled pid: never signal someone else's process.
    if [ "$pid_start" = "$start" ] && kill -"$sig" "-$pid" 2>/dev/null; then result=sent; fi
  fi
  echo "S $d $result"
done
