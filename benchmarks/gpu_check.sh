#!/usr/bin/env bash
# The MJX engine checked and measured on a GPU machine without a network (benchmarks/gpu_check.py).
#
#   bash benchmarks/gpu_check.sh --prepare   # here, with a network: wheels + certificates into .gpu_check/
#   bash benchmarks/gpu_check.sh             # there: install from .gpu_check/, run the check (<= 8 min)
#   bash benchmarks/gpu_check.sh --small     # here, on JAX's CPU, small sizes: the check of this script
#
# The GPU machine has Python 3.12 with CUDA torch and JAX (with CUDA), and none of mujoco, gymnasium,
# z3. --prepare downloads the CPython 3.12 manylinux x86-64 wheels of what is missing (no dependencies
# resolved: the list below is what `import agents.lanes, agents.tasks.mjx` and Gymnasium's MuJoCo envs
# need beyond torch's and JAX's own), issues the certificates of the scales the lanes train into
# .gpu_check/certificates (so no z3 is needed there: pgcheck.check takes a certificate already issued),
# and checks that the working tree plus .gpu_check/ stays within the 64 MiB a device call carries.
# mujoco-studio (12.8 MB, the viewer) is left out: nothing here imports it.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.gpu_check
LIMIT=$((64 * 1024 * 1024))
WHEELS=(
    mujoco==4.0.0 mujoco-core==4.0.0 mujoco-mjx==3.17.0
    gymnasium==1.4.0 farama-notifications cloudpickle imageio glfw pyopengl
    trimesh etils absl-py importlib-resources zipp
)
PY=${PYTHON:-python3}

tree_bytes() {   # tracked + untracked-not-ignored files of the working tree
    git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}'
}

case "${1:-}" in
--prepare)
    VENV=${VENV:-.venv}
    rm -rf "$DIR" && mkdir -p "$DIR/wheels" "$DIR/certificates"
    "$VENV/bin/pip" download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --abi cp312 --abi abi3 --abi none --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d "$DIR/wheels" "${WHEELS[@]}"
    PGCHECK_CACHE_DIR="$DIR/certificates" "$VENV/bin/python" - <<'EOF'
from agents.presets import preset
from pgcheck.check import checked_scale
for name in ("ppo", "mla-ppo"):
    p = preset(name, "Hopper-v5")
    print("certificate:", name, checked_scale(p["scale"], p.get("scale_params")).certificate.overall)
EOF
    wheels=$(du -cb "$DIR" | tail -1 | cut -f1)
    tree=$(tree_bytes)
    total=$((wheels + tree))
    ls -la "$DIR/wheels"
    printf 'working tree %.1f MiB + %s %.1f MiB = %.1f MiB of %d MiB\n' "$(echo "$tree / 1048576" | bc -l)" "$DIR" \
        "$(echo "$wheels / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)" $((LIMIT / 1048576))
    if [ "$total" -gt "$LIMIT" ]; then echo "over the 64 MiB a device call carries" >&2; exit 1; fi
    ;;
--small)
    VENV=${VENV:-.venv}
    shift
    exec "$VENV/bin/python" benchmarks/gpu_check.py --small "$@"
    ;;
*)
    if [ ! -d "$DIR/wheels" ]; then echo "no $DIR/wheels: run 'bash benchmarks/gpu_check.sh --prepare' first" >&2; exit 2; fi
    SITE=$(mktemp -d)/site
    $PY -m pip install --quiet --no-index --no-deps --target "$SITE" "$DIR"/wheels/*.whl
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    export PGCHECK_CACHE_DIR="$PWD/$DIR/certificates"
    export PGCHECK_JAX_CACHE="${PGCHECK_JAX_CACHE:-$(mktemp -d)}"
    $PY - <<'EOF'
import importlib
missing = []
for m in ("numpy", "sympy", "mpmath", "torch", "jax", "mujoco", "mujoco.mjx", "gymnasium", "scipy"):
    try:
        importlib.import_module(m)
    except Exception as exc:  # report every missing module at once
        missing.append(f"{m} ({type(exc).__name__}: {exc})")
if missing:
    raise SystemExit("gpu_check: cannot import " + "; ".join(missing))
EOF
    shift || true
    exec timeout 480 $PY benchmarks/gpu_check.py --budget 450 "$@"
    ;;
esac
