#!/usr/bin/env bash
# Every GPU check of hens in one call (no internet needed; at most CHECK_BUDGET_S = 570 s in all, each step
# under its own timeout and what is left of the budget).
#
#   scripts/device_check.sh [--device cuda|cpu] [--dry-run] [--no-install]
#
# From the repository root.  Steps (each under its own timeout; a failed step is recorded and the next one runs):
#   env         nvidia-smi, python, torch and its CUDA build
#   install     pip install -e . --no-deps (only when torch is already installed; otherwise says so; --no-install
#               skips it, e.g. on a shared machine whose hens must stay as installed)
#   tests       the unit tests of the code with CUDA paths (tests/inference, tests/models, tests/io; not e2e;
#               with --device cpu only tests/inference/test_precision.py).
#               On a CUDA machine they exercise the device code where they pick a device; hens has no test that
#               requires CUDA.
#   throughput  scripts/bench_throughput.py --device cuda for fcn2-small (≈128 M) and hens (embed 620, 8 blocks,
#               scale factor 2) against the plain torch-harmonics loop, fp32/TF32/bf16
#   throughput-compile  the same for fcn2-small in fp32 with hens' step under torch.compile (`compile` of hens
#               generate): eager vs default vs reduce-overhead (CUDA graphs), compile seconds apart
#   writer      scripts/bench_writer.py with 1, 2, 4, 8 writer threads (the node's cores, 721×1440)
#   inputs      scripts/device_inputs.py: an ERA5 Zarr and two random-weight makani packages at 721×1440
#   generate    hens generate on the device at 721×1440 (8 members, 4 steps), output on, then off
#   ranks2      the same with 2 ranks over NCCL (torchrun) when ≥ 2 GPUs, compared with 1 rank byte for byte
#   diagnose-kernels  scripts/device_kernels.py: the fair CRPS and spectral kernels of hens diagnose on the device
#               vs the CPU (max relative difference ≤ 1e-6 on CUDA; on the CPU the CRPS vs NumPy to 1e-10)
#   diagnose    hens diagnose of the generate-output-on store with diagnose.device=<device> (extremes off: the
#               ERA5 inputs have no climatology)
# With --device cpu every step runs at tiny sizes (16×32 grid, the `small` throughput size; compile=default
# only); CI runs it (tests/test_device_check.py).  --dry-run prints the steps and runs nothing.
# Output: results.json and results.md (one row per step: status, seconds, a note) in $OUT if set, else
# ./device_check/; the benchmarks' own JSON files next to them; each step's log in logs/.
set -uo pipefail

DEVICE=cuda
DRY=0
INSTALL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#*=}"; shift ;;
    --dry-run) DRY=1; shift ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "device_check.sh: unknown argument $1 (use --device cuda|cpu, --dry-run, --no-install)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "device_check.sh: --device must be cuda or cpu, got $DEVICE" >&2; exit 2 ;; esac

RESULTS="${OUT:-$PWD/device_check}"
[ "$DRY" = 1 ] || mkdir -p "$RESULTS/logs"
# one budget for the whole check (the device machine allows 10 minutes a call); every step gets what is left
DEADLINE=$(( $(date +%s) + ${CHECK_BUDGET_S:-570} ))
[ "$DRY" = 1 ] || RESULTS="$(cd "$RESULTS" && pwd)"
STEPS_TSV="$RESULTS/steps.tsv"
[ "$DRY" = 1 ] || : > "$STEPS_TSV"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HENS_CACHE_DIR="${HENS_CACHE_DIR:-$RESULTS/cache}"

if [ "$DEVICE" = cuda ]; then
  GRID="721 1440"; EMBED=64; LAYERS=4; STEPS=4; WRITER="--threads 1 2 4 8 --chunks 48 --repeats 3"
  SIZES="fcn2-small hens"; TP_ARGS="--members 8 --batch 4 --steps 4 --repeats 2"
  COMPILE_SIZE=fcn2-small; COMPILE_MODES=default,reduce-overhead; KERNELS="--grid 721 1440 --members 16 --fields 4"
  TESTS="tests/inference tests/models tests/io"
else
  GRID="16 32"; EMBED=8; LAYERS=2; STEPS=2; WRITER="--threads 1 2 --chunks 2 --repeats 1"
  SIZES="small"; TP_ARGS="--members 2 --batch 2 --steps 1 --repeats 1"
  COMPILE_SIZE=small; COMPILE_MODES=default; KERNELS="--grid 17 32 --members 4 --fields 2"
  TESTS="tests/inference/test_precision.py"
fi
GEN_COMMON=(ensemble.n_perturbations=2 ensemble.batch_size=4 output.lead_chunk=2 progress=false "device=$DEVICE")

# step NAME TIMEOUT_S COMMAND...: run (or print) one step; record status, seconds and the log's last line.
step() {
  local name="$1" limit="$2"; shift 2
  if [ "$DRY" = 1 ]; then echo "[$name] (timeout ${limit}s) $*"; return 0; fi
  local left=$(( DEADLINE - $(date +%s) ))
  if [ "$left" -lt 15 ]; then skip "$name" "out of time (CHECK_BUDGET_S)"; return 1; fi
  [ "$left" -lt "$limit" ] && limit=$left
  echo "== $name: $*"
  local start end rc note
  start=$(date +%s.%N)
  timeout "$limit" "$@" >"$RESULTS/logs/$name.log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  note=$(grep -v '^\s*$' "$RESULTS/logs/$name.log" | tail -n 1 | tr '\t' ' ' | cut -c1-200)
  local status=ok
  [ $rc -ne 0 ] && status="failed (exit $rc)"
  [ $rc -eq 124 ] && status="timed out (${limit}s)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$(awk "BEGIN{printf \"%.1f\", $end - $start}")" "$note" >>"$STEPS_TSV"
  echo "   $status"
  return $rc
}

skip() {  # skip NAME REASON
  if [ "$DRY" = 1 ]; then echo "[$1] skipped: $2"; return 0; fi
  echo "== $1: skipped: $2"
  printf '%s\tskipped\t0.0\t%s\n' "$1" "$2" >>"$STEPS_TSV"
}

step env 60 bash -c "nvidia-smi 2>/dev/null || echo 'no nvidia-smi'; $PY -c 'import sys, torch; print(sys.version.split()[0], \"torch\", torch.__version__, \"cuda build\", torch.version.cuda, \"available\", torch.cuda.is_available(), \"gpus\", torch.cuda.device_count())'"

if [ "$INSTALL" = 0 ]; then
  skip install "--no-install: the hens on PYTHONPATH ($PWD) is used as it is"
elif [ "$DRY" = 0 ] && ! "$PY" -c "import torch" 2>/dev/null; then
  skip install "torch is not installed: install the CUDA build of torch for this machine first (no download here)"
else
  step install 120 "$PY" -m pip install --no-deps --no-build-isolation -e .
fi

NGPU=0
if [ "$DRY" = 0 ]; then
  NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
  if [ "$DEVICE" = cuda ] && [ "$NGPU" = 0 ]; then
    echo "device_check.sh: --device cuda but torch sees no CUDA GPU; run with --device cpu for the CPU check" >&2
  fi
fi

step tests 240 "$PY" -m pytest -q -x -p no:cacheprovider -m "not e2e" $TESTS

for size in $SIZES; do
  step "throughput-$size" 180 "$PY" scripts/bench_throughput.py --device "$DEVICE" --size "$size" $TP_ARGS \
    --json "$RESULTS/throughput-$size.json"
done

step throughput-compile 180 "$PY" scripts/bench_throughput.py --device "$DEVICE" --size "$COMPILE_SIZE" $TP_ARGS \
  --modes fp32 --compile "$COMPILE_MODES" --json "$RESULTS/throughput-compile.json"

step writer 120 "$PY" scripts/bench_writer.py $WRITER --out "$RESULTS/writer.json"

INPUTS="$RESULTS/inputs"
step inputs 120 bash -c "$PY scripts/device_inputs.py '$INPUTS' --grid $GRID --embed $EMBED --layers $LAYERS --steps $STEPS > '$RESULTS/overrides.txt'"
OVERRIDES=()
if [ -f "$RESULTS/overrides.txt" ]; then mapfile -t OVERRIDES <"$RESULTS/overrides.txt"; fi

step generate-output-on 150 "$PY" -m hens generate "${OVERRIDES[@]}" "${GEN_COMMON[@]}" \
  "output.path=$RESULTS/gen1.zarr" output.overwrite=true
step generate-output-off 120 "$PY" -m hens generate "${OVERRIDES[@]}" "${GEN_COMMON[@]}" \
  "output.path=$RESULTS/gen_off.zarr" output.write=false

if [ "$DEVICE" = cuda ] && [ "$NGPU" -ge 2 ]; then
  step ranks2 150 "$PY" -m torch.distributed.run --nproc-per-node 2 -m hens generate "${OVERRIDES[@]}" \
    "${GEN_COMMON[@]}" "output.path=$RESULTS/gen2.zarr" output.overwrite=true
  step ranks2-identical 60 bash -c "cd '$RESULTS' && diff <(cd gen1.zarr && find . -type f -path './[!.]*/c/*' | sort | xargs sha256sum) <(cd gen2.zarr && find . -type f -path './[!.]*/c/*' | sort | xargs sha256sum) && echo 'chunks identical to 1 rank'"
elif [ "$DEVICE" = cuda ]; then
  skip ranks2 "needs ≥ 2 GPUs (found $NGPU)"
else
  skip ranks2 "NCCL needs CUDA GPUs (--device cpu)"
fi

step diagnose-kernels 120 "$PY" scripts/device_kernels.py --device "$DEVICE" $KERNELS --json "$RESULTS/kernels.json"
step diagnose 180 "$PY" -m hens diagnose "$RESULTS/gen1.zarr" "diagnose.device=$DEVICE" diagnose.extremes.enabled=false \
  diagnose.verify=size "diagnose.output_dir=$RESULTS/diagnose" diagnose.overwrite=true progress=false

if [ "$DRY" = 1 ]; then exit 0; fi
"$PY" - "$STEPS_TSV" "$RESULTS" "$DEVICE" <<'PY'
import json, platform, sys
from pathlib import Path
tsv, out, device = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
rows = []
for line in tsv.read_text().splitlines():
    name, status, seconds, note = (line.split("\t") + [""] * 4)[:4]
    rows.append({"step": name, "status": status, "seconds": float(seconds), "note": note})
bench = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.name != "results.json"}
payload = {"device": device, "host": platform.node(), "steps": rows, "benchmarks": bench}
(out / "results.json").write_text(json.dumps(payload, indent=1))
lines = ["| step | status | s | note |", "| --- | --- | ---: | --- |"]
lines += [f"| {r['step']} | {r['status']} | {r['seconds']:.1f} | {r['note'].replace('|', '/')} |" for r in rows]
(out / "results.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
failed = [r["step"] for r in rows if not (r["status"] == "ok" or r["status"] == "skipped")]
sys.exit(1 if failed else 0)
PY
