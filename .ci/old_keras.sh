#!/usr/bin/env bash
# The oldest Keras 3 release (3.0.0) in its own virtual environment, .old-keras/ at the
# repository's root, for tests/test_saving_old_keras.py: fcnet's .keras files must load
# there. The JAX backend trains; the pins are versions of that time which install from
# wheels on Python 3.11 (Keras 3.0.0 imports `packaging` without declaring it).
# Usage: bash .ci/old_keras.sh   (a working environment is kept as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.old-keras
check='import keras; assert keras.__version__ == "3.0.0", keras.__version__; print("Keras", keras.__version__, keras.backend.backend())'
if [ -x "$venv/bin/python" ] && KERAS_BACKEND=jax "$venv/bin/python" -c "$check" 2>/dev/null; then
    exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "keras==3.0.0" "numpy==1.26.4" "jax==0.4.20" "jaxlib==0.4.20" "scipy==1.12.0" \
    "h5py" "packaging" 2>&1 | grep -v "^WARNING: Location" || true
KERAS_BACKEND=jax "$venv/bin/python" -c "$check"
