# Sluice launcher: start one attempt DETACHED on the worker. POSIX sh, no agent needed.
# Args: ATTEMPT_DIR SCRIPT_BYTES SECRETS. Stdin: SECRETS lines `NAME OCTAL-ESCAPED-VALUE`, then the job script
# (env exports, cd, command). SECRETS "-" means none and "never start, only report an earlier launch".
# The attempt folder is the idempotency token: if it exists, the attempt was launched before (a crashed
# dispatch); report that launch instead of starting the job a second time.
set -u
d=$1
want=$2
secrets=${3:-0}
# Secrets become exported variables of this shell, so only the job's environment holds them: `read` and the
# printf builtin leave no command line for ps to show and no file on disk.
if [ "$secrets" != "-" ]; then
  n=0
  while [ "$n" -lt "$secrets" ]; do
    IFS=' ' read -r name escaped || { echo "sluice: secrets arrived cut short" >&2; exit 76; }
    value=$(printf "%b_" "$escaped") && value=${value%_} && export "$name=$value" || exit 76
    n=$((n + 1))
  done
  unset n name escaped value
fi
case $d in "~/"*) d="$HOME/${d#"~/"}" ;; esac
# Sluice's own files are private; the job gets the login's umask back (job.sh sets the job's own, if any).
login_umask=$(umask)
umask 077
# Whoever makes "claim" first decides: the supervisor, which then starts the job, or a launcher giving up on
# it, which marks the attempt abandoned so that a supervisor arriving late never starts it. Exit 77 therefore
# means "never started, never will": only then may the attempt be ended and the run go elsewhere.
abandon() {
  if mkdir "$d/claim" 2>/dev/null; then
    mkdir "$d/abandoned"
    echo "sluice: the job did not start in time; the attempt is abandoned and will never start" >&2
    exit 77
  fi
  [ -d "$d/abandoned" ] && { echo "sluice: the attempt was abandoned before; it never started" >&2; exit 77; }
  echo "sluice: the job of $d is starting but slow (no pid yet)" >&2
  exit "$1"
}
mkdir -p "${d%/*}" || { echo "sluice: cannot create ${d%/*}" >&2; exit 70; }
if [ "$secrets" = "-" ] && [ ! -d "$d" ]; then
  cat >/dev/null
  echo "sluice: the attempt never started, and a secret it needs cannot be read on the bastion now" >&2
  exit 77
fi
if ! mkdir "$d" 2>/dev/null; then
  cat >/dev/null
  i=0
  # Wait longer than a launcher's own budget, so an earlier launcher that is merely slow is not run over.
  while [ ! -s "$d/pid" ] && [ ! -d "$d/abandoned" ] && [ $i -lt 1500 ]; do
    sleep 0.01 2>/dev/null || sleep 1; i=$((i + 1))
  done
  if [ -s "$d/pid" ]; then read -r pid start rest <"$d/pid"; echo "existing $pid $start"; exit 0; fi
  abandon 71
fi
cat >"$d/job.sh" || { echo "sluice: cannot write $d/job.sh" >&2; rm -rf "$d"; exit 72; }
# A link that drops mid-transfer leaves a cut script: never run it (a cut "rm -rf /data/old" is "rm -rf /data/").
got=$(wc -c <"$d/job.sh")
if [ "$got" -ne "$want" ]; then
  rm -rf "$d"
  echo "sluice: job script arrived cut short ($got of $want bytes); not started" >&2
  exit 76
fi
cd "$d" || exit 73
command -v setsid >/dev/null 2>&1 || { echo "sluice: setsid is not installed on this worker (util-linux)" >&2; exit 74; }
: >stdout
: >stderr
# The supervisor gets its own session so a dropped SSH channel cannot signal it; the job gets another
# session of its own so cancel can kill its whole process group while the supervisor lives on to record
# the exit code. The exit code is written then renamed, so a reader never sees half of it.
setsid sh -c "$READ_PID_START"'
  mkdir claim 2>/dev/null || exit 0
  (umask '"$login_umask"' && exec setsid sh ./job.sh) </dev/null >>stdout 2>>stderr &
  pid=$!
  read_pid_start $pid || pid_start=0
  start=$pid_start
  read_pid_start $$ || pid_start=0
  echo "$pid $start $$ $pid_start" >pid.tmp && mv pid.tmp pid
  wait $pid
  echo $? >exit.tmp && mv exit.tmp exit
' sluice-supervisor </dev/null >/dev/null 2>&1 &
i=0
while [ ! -s pid ] && [ $i -lt 1000 ]; do sleep 0.01 2>/dev/null || sleep 1; i=$((i + 1)); done
[ -s pid ] || abandon 75
read -r pid start rest <pid
echo "started $pid $start"
