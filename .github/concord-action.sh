#!/usr/bin/env bash
# The run step of the Concord GitHub Action (action.yml at the repository root), usable from any CI:
# runs the conformance harness with the INPUT_* variables below, writes the JUnit file at
# REPORT_DIR/junit.xml and the HTML report under REPORT_DIR/PEER/TIMESTAMP/index.html, and exits with
# the harness's exit code (0 pass, 1 unexpected failure or pass, 2 inconclusive, 64 usage, 69 peer
# unavailable, 70 harness error; `conformance help run`).
#   INPUT_TARGET         the broker under test: host:port, unix:PATH, fifo:DIR (lines:REQ,REP with --role in INPUT_ARGS)
#   INPUT_EXEC           the peer's command line, split as a shell would split it: a testee (suite testee,
#                        the default with it), an engine, bus adapter or instrument worker (their suites),
#                        a client (suite client: the harness listens and starts it per case, {port} replaced)
#   INPUT_SUITE          suites to run, separated by spaces or commas (default: the harness's)
#   INPUT_KNOWN_FAILING  a file of case patterns expected to fail (one per line, # comments)
#   INPUT_REPORT_DIR     where the reports go (default: concord-reports)
#   INPUT_ARGS           more harness options, split as a shell would split them (e.g. --run PATTERN --timeout 5000)
#   CONCORD_HARNESS      the harness command (default: node DIR/dist/conformance/cli.js, DIR this script's
#                        package; e.g. "npx conformance" where the package is installed)
# On GitHub it also writes the summary to the job summary and `exit-code` and `junit` as step outputs.
set -euo pipefail

package_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${CONCORD_HARNESS:-}" ]; then
  read -r -a harness <<<"$CONCORD_HARNESS"
else
  harness=(node "$package_dir/dist/conformance/cli.js")
fi

report_dir="${INPUT_REPORT_DIR:-concord-reports}"
junit="$report_dir/junit.xml"
args=(--report-dir "$report_dir" --junit "$junit")
suites=()
suite_list="${INPUT_SUITE:-}"
for suite in ${suite_list//,/ }; do
  suites+=("$suite")
  args+=(--suite "$suite")
done
[ -n "${INPUT_TARGET:-}" ] && args+=(--target "$INPUT_TARGET")
[ -n "${INPUT_KNOWN_FAILING:-}" ] && args+=(--known-failing "@$INPUT_KNOWN_FAILING")
extra=()
# Quotes in these two inputs group words as in a shell: the workflow's author wrote them.
[ -n "${INPUT_ARGS:-}" ] && eval "extra=($INPUT_ARGS)"
args+=(${extra[@]+"${extra[@]}"})
if [ -n "${INPUT_EXEC:-}" ]; then
  eval "peer=($INPUT_EXEC)"
  # How the harness takes a peer command depends on what the peer is (conformance help run).
  if [[ " ${suites[*]-} " == *" client "* ]]; then
    args+=(--listen 0)
  elif [[ "${INPUT_TARGET:-}" != lines:* && " ${suites[*]-} " != *" broker-process "* ]]; then
    args+=(--exec)
  fi
  args+=(-- "${peer[@]}")
fi

output="$(mktemp)"
trap 'rm -f "$output"' EXIT
echo "concord-action: ${harness[*]} ${args[*]}" >&2
set +e
"${harness[@]}" "${args[@]}" | tee "$output"
code=${PIPESTATUS[0]}
set -e

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  { echo '### Concord conformance'; echo; echo '```'; cat "$output"; echo '```'; } >>"$GITHUB_STEP_SUMMARY"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "exit-code=$code"; echo "junit=$junit"; } >>"$GITHUB_OUTPUT"
fi
exit "$code"
