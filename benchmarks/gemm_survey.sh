#!/usr/bin/env bash
# Builds and runs benchmarks/gemm_survey.cpp: oneDNN and OpenBLAS (xkeras's two engines) always; libxsmm when
# Debian's libxsmm-dev is installed; MKL when pip's `mkl` package is (MKL_RT=/path/libmkl_rt.so.N overrides).
#   benchmarks/gemm_survey.sh                 # the lecture MLP step at batch 32
#   benchmarks/gemm_survey.sh 32 784 100 100  # batch, then layer sizes
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
flags=() libs=()
if [ -f /usr/include/libxsmm.h ]; then
  flags+=(-DWITH_LIBXSMM) libs+=(-lxsmm)
else
  echo "(libxsmm: not installed; apt-get install libxsmm-dev adds it)"
fi
if [ -z "${MKL_RT:-}" ]; then
  MKL_RT="$(python3 - <<'PY'
import glob, sys
print(next(iter(sorted(glob.glob(sys.prefix + "/lib/libmkl_rt.so*"))), ""))
PY
)"
fi
[ -n "$MKL_RT" ] && export MKL_RT || echo "(MKL: not installed; pip install mkl adds it)"
g++ -O3 -std=c++17 -o "$out/gemm_survey" "$here/gemm_survey.cpp" "${flags[@]}" -ldnnl -lopenblas "${libs[@]}" -ldl -fopenmp
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "$out/gemm_survey" "$@"
