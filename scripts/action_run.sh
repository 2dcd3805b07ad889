#!/usr/bin/env bash
# The GitHub Action's step (action.yml): install bgtask-lint, write SARIF if asked, then
# run it with --format github so each finding becomes an annotation on its line.
#
# Inputs come as environment variables, as action.yml passes them:
#   INPUT_ARGS     the command and options (default "check"), split on whitespace
#   INPUT_SRC      the paths to check (default "."), split on whitespace
#   INPUT_VERSION  "" = install from the action's own checkout (GITHUB_ACTION_PATH);
#                  "installed" = use the bgtask-lint already on PATH; "0.2.0" = that
#                  release; anything else is a pip requirement ("git+https://...@SHA")
#   INPUT_SARIF    "true" also writes INPUT_SARIF_FILE (default bgtask-lint.sarif)
#   INPUT_PYTHON   the interpreter that makes the tool's venv (default python3)
# Outputs (to GITHUB_OUTPUT): sarif-file, exit-code. Exit status: bgtask-lint's own
# (0 clean, 1 findings, 2 error), so findings fail the job.
set -uo pipefail

args="${INPUT_ARGS:-check}"
src="${INPUT_SRC:-.}"
version="${INPUT_VERSION:-}"
sarif="${INPUT_SARIF:-false}"
sarif_file="${INPUT_SARIF_FILE:-bgtask-lint.sarif}"
python="${INPUT_PYTHON:-python3}"

read -r -a args_words <<< "$args"
read -r -a src_words <<< "$src"

if [[ "$version" == "installed" ]]; then
    tool="$(command -v bgtask-lint)" || { echo "::error::bgtask-lint is not on PATH (version: installed)"; exit 2; }
else
    if [[ -z "$version" ]]; then
        requirement="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: give a version}"
    elif [[ "$version" =~ ^[0-9][0-9A-Za-z.+-]*$ ]]; then
        requirement="bgtask-lint==$version"
    else
        requirement="$version"
    fi
    # a venv of its own, so the tool's dependencies never mix with the project's
    venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/bgtask-lint-venv"
    echo "::group::Install bgtask-lint ($requirement)"
    "$python" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement"
    status=$?
    echo "::endgroup::"
    if [[ $status -ne 0 ]]; then
        echo "::error::could not install bgtask-lint from '$requirement'"
        exit 2
    fi
    tool="$venv/bin/bgtask-lint"
fi

sarif_status=0
if [[ "$sarif" == "true" ]]; then
    mkdir -p "$(dirname "$sarif_file")"
    # --exit-zero: the annotated run below decides the step's result
    "$tool" "${args_words[@]}" --format sarif --exit-zero --output-file "$sarif_file" "${src_words[@]}"
    sarif_status=$?
    if [[ $sarif_status -ne 0 ]]; then
        echo "::error::bgtask-lint could not write $sarif_file (exit $sarif_status)"
    fi
fi

"$tool" "${args_words[@]}" --format github "${src_words[@]}"
code=$?
if [[ $code -eq 0 && $sarif_status -ne 0 ]]; then
    code=2  # an error while writing the SARIF is still an error
fi

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    {
        [[ "$sarif" == "true" ]] && echo "sarif-file=$sarif_file"
        echo "exit-code=$code"
    } >> "$GITHUB_OUTPUT"
fi
exit "$code"
