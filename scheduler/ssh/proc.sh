# Sluice's view of /proc, put before the launch, probe and signal scripts.
# read_pid_start PID sets $pid_start to the start time of process PID (field 22 of /proc/PID/stat), with no
# fork, or fails if there is no such process. The name in field 2 may hold spaces, ')' and newlines
# (setproctitle, prctl, a write to /proc/self/comm), so fields are counted after the LAST ')'.
# The definition is kept as text too: the launcher's supervisor is another shell and needs it.
READ_PID_START='read_pid_start() {
  pid_start= stat=
  { while IFS= read -r part; do stat="$stat$part "; done <"/proc/$1/stat"; } 2>/dev/null
  case $stat in *")"*) ;; *) return 1 ;; esac
  set -- ${stat##*)}
  pid_start=${20:-}
  [ -n "$pid_start" ]
}'
eval "$READ_PID_START"
# Without Linux /proc (BSD, macOS) no job can be watched: refuse the worker rather than report jobs vanished.
if [ ! -r /proc/self/stat ]; then
  echo "sluice: worker has no /proc: Sluice needs Linux /proc to watch jobs" >&2
  exit 78 # NO_PROC_EXIT in executor.py
fi
