# Sluice probe: the state and new output of many attempts on one worker, in one round trip.
# Args: MAX_BYTES, then triples ATTEMPT_DIR STDOUT_OFFSET STDERR_OFFSET.
# Prints per attempt "A index state exit_code stdout_size stderr_size", then for each stream with new bytes
# "B index o|e offset count" followed by exactly count raw bytes.
set -u
max=$1
shift
n=0
while [ $# -ge 3 ]; do
  d=$1 oo=$2 eo=$3
  shift 3
  case $d in "~/"*) d="$HOME/${d#"~/"}" ;; esac
  if [ ! -d "$d" ]; then echo "A $n missing - 0 0"; n=$((n + 1)); continue; fi
  state=starting code=-
  if [ -f "$d/exit" ]; then
    state=exited code=$(cat "$d/exit")
  elif [ -s "$d/pid" ]; then
    read -r pid start spid sstart <"$d/pid"
    read_pid_start "$pid" || pid_start=gone
    now=$pid_start
    read_pid_start "${spid:-0}" || pid_start=gone
    snow=$pid_start
    if [ "$now" = "$start" ]; then
      state=running
    elif [ -f "$d/exit" ]; then
      state=exited code=$(cat "$d/exit")
    elif [ "$snow" = "${sstart:-}" ]; then
      state=running # the job has just ended and its supervisor is writing the exit code
    elif [ -f "$d/exit" ]; then
      state=exited code=$(cat "$d/exit")
    else
      state=vanished
    fi
  fi
  # A worker that crashed while writing the exit file leaves it empty: report "unknown", not garbage.
  case $code in '' | *[!0-9-]*) code=- ;; esac
  # Sizes are read after the exit check: once the exit file exists, the output is complete.
  os=$(wc -c <"$d/stdout" 2>/dev/null || echo 0)
  es=$(wc -c <"$d/stderr" 2>/dev/null || echo 0)
  echo "A $n $state $code $os $es"
  for pair in "o $oo $os stdout" "e $eo $es stderr"; do
    tag=${pair%% *} rest=${pair#* }
    off=${rest%% *} rest=${rest#* }
    size=${rest%% *} file=${rest#* }
    want=$((size - off))
    [ $want -gt $max ] && want=$max
    if [ $want -gt 0 ]; then
      echo "B $n $tag $off $want"
      tail -c +$((off + 1)) "$d/$file" | head -c $want
    fi
  done
  n=$((n + 1))
done
