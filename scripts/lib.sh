# Shared helpers for scripts/*; sourced, not run.

# Repository root, whatever the caller's working directory.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# step NAME CMD...: runs CMD, prints how long it took, and records it for the summary.
STEP_TIMES=()
step() {
  local name="$1"
  shift
  local start end
  start=$(date +%s)
  echo "==> ${name}"
  # Under `set -e` a failure ends the script here; in `step ... || x` it is recorded instead.
  local rc=0
  "$@" || rc=$?
  end=$(date +%s)
  local verdict=ok
  if ((rc != 0)); then verdict="FAILED (exit ${rc})"; fi
  STEP_TIMES+=("$(printf '%-42s %5ss  %s' "${name}" "$((end - start))" "${verdict}")")
  echo "<== ${name}: $((end - start))s ${verdict}"
  return "${rc}"
}

print_times() {
  echo "---- step timings ----"
  local line
  for line in "${STEP_TIMES[@]}"; do echo "${line}"; done
}

# Builds the UI into ui/dist, replacing it only when the output changed: the app embeds dist/
# at compile time, so rewriting identical files would relink certgate-app for nothing.
ui_build() {
  local ui="${ROOT}/ui"
  rm -rf "${ui}/.dist-new"
  (cd "${ui}" && npm run --silent build -- --outDir .dist-new) || return
  if [[ -d "${ui}/dist" ]] && diff -rq "${ui}/.dist-new" "${ui}/dist" >/dev/null; then
    rm -rf "${ui}/.dist-new"
    echo "ui/dist unchanged"
  else
    rm -rf "${ui}/dist" && mv "${ui}/.dist-new" "${ui}/dist"
  fi
}
