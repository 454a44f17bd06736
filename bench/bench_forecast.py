"""Speed of our KronosPipeline against the official KronosPredictor on the same random weights.

Same process, eval mode, on the CPU unless ``--device cuda``. Each case is (model, context, lookback,
horizon, paths). The official predictor is timed for ONE path (its batch of N paths costs about N
times that); ``per_path_speedup`` = official one-path time x paths / our time for all paths. Prints one
JSON line per case. Needs the official code (``pip install --no-deps kronos-model-arch``), a
test/bench-only dependency.

    .venv/bin/python bench/bench_forecast.py                      # every case
    .venv/bin/python bench/bench_forecast.py --case small-400+120x30 --device cuda
    .venv/bin/python bench/bench_forecast.py --threads 2 --memory   # + peak RSS, each side in its own process
    .venv/bin/python bench/bench_forecast.py --precision bf16       # our predictor in bf16 (official: fp32)
    .venv/bin/python bench/bench_forecast.py --case mini-400+120x30 --threads 2 --paired-rounds 5
                                                                  # official and ours alternated, ratio per round
    .venv/bin/python bench/bench_forecast.py --device cuda --decode eager --decode static --decode graphs
                                                                  # each decode mode of ours (kronos.accel.static_decode)
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kronos.accel import DECODE_MODES, packed_linear_enabled, set_packed_linear  # noqa: E402
from kronos.checkpoints import load_pair, save_checkpoint  # noqa: E402
from kronos.pipeline import KronosPipeline  # noqa: E402
from kronos.settings import DEFAULT_PRECISION, PRECISIONS  # noqa: E402
from kronos.synthetic import MODEL_CONFIGS, random_bars  # noqa: E402

CASES = {  # name: (model, context, lookback, horizon, paths)
    "mini-400+120x30": ("mini", 2048, 400, 120, 30),    # fits the window: cache only
    "small-400+120x30": ("small", 512, 400, 120, 30),   # the window slides for the last 8 steps
    "small-392+120x30": ("small", 512, 392, 120, 30),   # the default lookback (context - horizon): fits
    "small-512+24x30": ("small", 512, 512, 24, 30),     # a full-context lookback: slides at every step
    "small-400+120x1": ("small", 512, 400, 120, 1),
}


def build(name: str, context: int, folder: Path, device: str, precision: str = "fp32"):
    import model as official  # the official code, imported only where it runs (not in our memory runs)

    pcfg, tcfg = MODEL_CONFIGS[name]
    torch.manual_seed(0)
    tok = official.KronosTokenizer(**tcfg.to_dict()).eval()
    pred = official.Kronos(**pcfg.to_dict()).eval()
    save_checkpoint(tok, folder / "tokenizer", tcfg)
    save_checkpoint(pred, folder / "predictor", pcfg)
    (folder / "bundle.json").write_text(json.dumps({"context": context, "name": name}))
    return tok.to(device), pred.to(device), load_pair(folder, device=device, precision=precision)


def timed(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def run_case(case: str, device: str, precision: str = "fp32", decodes: tuple[str, ...] = ("eager",),
             top_p: float = 0.9, official_runs: int = 1, plain_too: bool = False, paired_rounds: int = 0) -> list[dict]:
    """One report per decode mode of ours (kronos.accel.DECODE_MODES), against the official side's median
    of ``official_runs`` timings. ``plain_too``: ours also with the plain (unpacked) CPU products, alternated
    with the packed ones in this process (``kronos.accel.set_packed_linear``). ``paired_rounds`` R > 0:
    instead, after the warm-up, R rounds of one official forecast then one of ours, and the speed-up is the
    median of the R rounds' own ratios (both sides' times are medians): on a shared machine whose speed
    drifts from minute to minute, a ratio taken within a round is what the load changes hit least."""
    name, context, lookback, horizon, paths = CASES[case]
    frame = random_bars(lookback + horizon, seed=1)
    history = frame.iloc[:lookback].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[lookback:])
    with tempfile.TemporaryDirectory() as tmp:
        tok, pred, pair = build(name, context, Path(tmp), device, precision)
        import model as official

        predictor = official.KronosPredictor(pred, tok, device=device, max_context=context)

        def official_run(top_k, top_p, count):
            torch.manual_seed(0)
            return predictor.predict(history.drop(columns="timestamp"), pd.Series(history["timestamp"]),
                                     pd.Series(future), pred_len=horizon, T=1.0, top_k=top_k, top_p=top_p,
                                     sample_count=count, verbose=False).to_numpy(np.float32)

        ref = official_run(1, 1.0, 1)  # also the official side's warm-up
        official_s = statistics.median(timed(lambda: official_run(0, top_p, 1), device) for _ in range(official_runs))
        reports = []
        for decode in decodes:
            ours = KronosPipeline(pair, decode=decode)

            def ours_run(top_k, top_p, count, ours=ours):
                # anchor=False: the official predictor's output exactly (the anchor shift is ours only).
                return ours.predict(history, horizon, paths=count, top_k=top_k, top_p=top_p, seed=0,
                                    future_timestamps=future, lookback=lookback, anchor=False)

            # The first forecast is the warm-up (allocator, thread pool, CUDA kernels; decode='static'/'graphs':
            # allocating the decoder and capturing the graphs; 'compiled': compiling, waited for), the timed
            # ones reuse them from the pool.
            first_s = timed(lambda: ours_run(0, top_p, paths), device)
            ours.wait_for_compilation()  # decode='compiled': built after the first forecast, in the background
            paired = {}
            if paired_rounds > 0:
                rounds = [(timed(lambda: official_run(0, top_p, 1), device), timed(lambda: ours_run(0, top_p, paths), device))
                          for _ in range(paired_rounds)]
                ratios = [o * paths / t for o, t in rounds]
                official_s, ours_s = (statistics.median(side) for side in zip(*rounds))
                paired = {"paired_rounds": paired_rounds, "per_path_speedup_paired": round(statistics.median(ratios), 1),
                          "per_path_speedup_range": [round(min(ratios), 1), round(max(ratios), 1)]}
            else:
                ours_s = min(timed(lambda: ours_run(0, top_p, paths), device) for _ in range(2))
            plain_s = None
            if plain_too:  # alternated: plain, packed, plain after the two packed runs above
                runs = {True: [ours_s], False: []}
                for packed in (False, True, False):
                    previous = set_packed_linear(packed)
                    runs[packed].append(timed(lambda: ours_run(0, top_p, paths), device))
                    set_packed_linear(previous)
                ours_s, plain_s = min(runs[True]), min(runs[False])
            greedy = ours_run(1, 1.0, 1).mean
            rel = float((np.abs(greedy - ref) / np.maximum(np.abs(ref), 1e-3)).max())
            reports.append({
                "case": case, "paths": paths, "lookback": lookback, "horizon": horizon, "context": context,
                "ours_s": round(ours_s, 3), "ours_first_s": round(first_s, 3), "official_1path_s": round(official_s, 3),
                "per_path_speedup": round(official_s * paths / ours_s, 1), **paired, "greedy_max_rel_diff": rel,
                "official_runs": paired_rounds or official_runs, "packed_linear": packed_linear_enabled(),
                **({} if plain_s is None else {"ours_plain_s": round(plain_s, 3),
                                               "per_path_speedup_plain": round(official_s * paths / plain_s, 1)}),
                "precision": precision, "decode": decode, "compile_failures": ours.compile_failures() or None, "device": device, "top_p": top_p,
                "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
                "threads": torch.get_num_threads(), "torch": torch.__version__})
    return reports


def peak_rss_mib(case: str, side: str, device: str) -> dict:
    """Peak resident memory of a fresh process that loads the case's saved models and forecasts its
    paths with one side only (``ours``, or ``official`` with all paths in one call), and of the same
    process just before loading (interpreter, torch, pandas: what both sides pay anyway)."""
    name, context = CASES[case][:2]
    with tempfile.TemporaryDirectory() as tmp:
        build(name, context, Path(tmp), "cpu")
        out = subprocess.run([sys.executable, __file__, "--case", case, "--device", device, "--rss-of", side,
                              "--folder", tmp], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_run(case: str, side: str, device: str, folder: Path) -> None:
    _, context, lookback, horizon, paths = CASES[case]
    frame = random_bars(lookback + horizon, seed=1)
    history = frame.iloc[:lookback].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[lookback:])
    before = rss_mib()
    if side == "ours":
        KronosPipeline(load_pair(folder, device=device)).predict(history, horizon, paths=paths, seed=0,
                                                                 future_timestamps=future, lookback=lookback)
    else:
        import model as official

        tok = official.KronosTokenizer.from_pretrained(str(folder / "tokenizer")).eval()
        pred = official.Kronos.from_pretrained(str(folder / "predictor")).eval()
        official.KronosPredictor(pred, tok, device=device, max_context=context).predict(
            history.drop(columns="timestamp"), pd.Series(history["timestamp"]), pd.Series(future),
            pred_len=horizon, T=1.0, top_k=0, top_p=0.9, sample_count=paths, verbose=False)
    print(json.dumps({"side": side, "before_load_mib": before, "peak_rss_mib": rss_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                        help="our predictor's precision (the official one runs in fp32)")
    parser.add_argument("--decode", choices=DECODE_MODES, action="append",
                        help="our decode loop (repeat to time several; default eager); graphs: CUDA only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--official-runs", type=int, default=1, help="official timings per case (their median)")
    parser.add_argument("--paired-rounds", type=int, default=0,
                        help="R rounds of one official forecast then one of ours, the speed-up the median of "
                             "the rounds' ratios (instead of --official-runs' median against our best of two)")
    parser.add_argument("--plain-too", action="store_true",
                        help="also time ours with the plain CPU products (KRONOS_PACKED_LINEAR=0), alternated")
    parser.add_argument("--memory", action="store_true", help="also the peak RSS of each side, in fresh processes")
    parser.add_argument("--top-p", type=float, default=0.9,
                        help="both sides' nucleus (default 0.9, the official default the targets were set with; "
                             "1.0 is the studio's default)")
    parser.add_argument("--rss-of", choices=["ours", "official"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.paired_rounds and args.plain_too:
        parser.error("--paired-rounds and --plain-too are two ways of timing ours: choose one")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.rss_of:
        return rss_run(args.case[0], args.rss_of, args.device, args.folder)
    for case in args.case or list(CASES):
        for report in run_case(case, args.device, args.precision, tuple(args.decode or ["eager"]), args.top_p,
                               args.official_runs, args.plain_too, args.paired_rounds):
            if args.memory:
                for side in ("ours", "official"):
                    rss = peak_rss_mib(case, side, args.device)
                    report[f"{side}_peak_rss_mib"] = rss["peak_rss_mib"]
                    report[f"{side}_rss_before_load_mib"] = rss["before_load_mib"]
            print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
