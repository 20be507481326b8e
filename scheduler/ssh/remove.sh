# Sluice cleanup: remove finished attempt folders whose logs and exit code are safe on the bastion.
# Args: ATTEMPT_DIRs. Refuses folders whose job has not written its exit code.
set -u
for d in "$@"; do
  case $d in "~/"*) d="$HOME/${d#"~/"}" ;; esac
  if [ -d "$d" ] && [ -f "$d/exit" ]; then rm -rf -- "$d"; fi
  echo "R $d"
done
