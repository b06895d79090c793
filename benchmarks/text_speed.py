"""Text-encoding speed on CPU: fraudlens TextEncoder at fp32, bf16 and int8 vs sentence-transformers,
cold vs warm cache, and fine-tuning speed at fp32 vs bf16.

All on the Salminen review texts, in one process, same MiniLM-L6 weights, same torch threads:

- fraudlens_fp32 / _bf16 / _int8: ``TextEncoder(precision=...)`` (max_length 128, token-length-
  sorted batches of at most 256 texts and 8192 padded tokens with dynamic padding,
  ``inference_mode``, duplicates encoded once); bf16 casts
  the weights, int8 is dynamic quantisation of the Linear layers. ``default`` names what
  ``precision: auto`` (the shipped configs) resolves to on this machine;
- sentence_transformers: ``SentenceTransformer(<same model dir>, device="cpu").encode(texts,
  batch_size=...)`` with the model's own settings (max_seq_length 256); also with max_seq_length
  set to fraudlens' 128, to separate the truncation gain from the rest;
- ``--explore``: variants that were tried for the default path (bf16 by autocast over fp32
  weights, eager instead of SDPA attention, batches of 64 rows or of 16k tokens, torch.compile),
  to keep what pays;
- cold vs warm: the default encoder with an embedding cache, first call (computes and stores)
  vs the same texts through a fresh encoder on the same cache (loads, hashes, looks up);
- fine-tuning: one epoch of ``fine_tune`` (configs/text.yaml's settings) on a stratified sample
  of ``--finetune-texts`` texts at fp32 and at bf16 autocast; ``train_texts_per_s`` of the epoch.

Every configuration runs ``--repeats`` times (at least 3), interleaved, so a burst of load from
other jobs on a shared machine hits all of them alike; min and median are reported. The CPU
model and flags and the load average are recorded with the numbers, and numbers of the previous
results file that this run does not reproduce are named in the doc.

    python benchmarks/text_speed.py [--data PATH] [--threads N] [--repeats 3] [--explore]

Writes benchmarks/results/text_speed.json and the "text-speed" block of docs/benchmarks.md (--out,
--marker for a separate run, e.g. of --explore on a subset).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.doc_blocks import update_doc  # noqa: E402
from benchmarks.text_quality import DEFAULT_DATA  # noqa: E402

log = logging.getLogger("text_speed")
SHOWN_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
               "amx_int8")
LABELS = {
    "fraudlens_fp32": "fraudlens fp32 (max_length 128, length-sorted token-budget batches, inference_mode)",
    "fraudlens_bf16": "fraudlens bf16 (same, bf16 weights)",
    "fraudlens_int8": "fraudlens int8 (same, dynamic int8 Linear layers)",
    "sentence_transformers": "sentence-transformers `encode` (its max_seq_length 256)",
    "sentence_transformers_max128": "sentence-transformers, max_seq_length set to 128",
    "explore_bf16_autocast": "explored: fp32 weights under `torch.autocast(bfloat16)`",
    "explore_bf16_eager_attention": "explored: bf16 weights, eager attention instead of SDPA",
    "explore_bf16_rows64": "explored: bf16, batches of 64 rows (no token budget; the earlier batching)",
    "explore_bf16_tokens16384": "explored: bf16, token budget 16384",
    "explore_bf16_compiled": "explored: bf16, `torch.compile(dynamic=True)` (after warm-up)",
}
NOT_REPRODUCED = 0.25  # relative change beyond which an earlier number is called not reproduced


def cpu_description() -> dict:
    import torch

    from fraudlens.models.text_encoder import cpu_flags, cpu_has_bf16

    model = next((line.partition(":")[2].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    flags = cpu_flags()
    return {"cpu_model": model, "cpu_flags": sorted(f for f in SHOWN_FLAGS if f in flags),
            "cpu_native_bf16": cpu_has_bf16(flags), "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}", "torch": torch.__version__}


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def summary(seconds: list[float], n: int) -> dict:
    return {"texts_per_s_best": round(n / min(seconds), 2), "texts_per_s_median": round(n / statistics.median(seconds), 2),
            "seconds": [round(s, 3) for s in seconds]}


def not_reproduced(result: dict, earlier: dict | None) -> list[str]:
    """Lines naming the earlier results file's speed-ups over sentence-transformers that moved by
    more than NOT_REPRODUCED. Ratios, not texts/s: interleaved runs share the machine's load, so
    their ratio is what one run can reproduce; absolute speeds move with load and CPU (named)."""
    if not earlier:
        return []
    lines = []
    if earlier.get("cpu_model") and earlier.get("cpu_model") != result.get("cpu_model"):
        lines.append(f"the earlier run was on another CPU ({earlier['cpu_model']}, flags "
                     f"{', '.join(earlier.get('cpu_flags', []))}); absolute texts/s are not comparable")
    earlier_ratios = earlier.get("speedup_vs_sentence_transformers", {})
    for key, old in earlier_ratios.items():
        new = result["speedup_vs_sentence_transformers"].get(key)
        if new is None or abs(new / old - 1) <= NOT_REPRODUCED:
            continue
        lines.append(f"{LABELS.get(key, key)}: {old:.2f}x sentence-transformers "
                     f"({earlier['texts_per_s'][key]:.1f} texts/s) in the earlier run (`{earlier.get('command', '?')}`, "
                     f"load average {earlier.get('load_average_start', float('nan')):.1f} at start) - not reproduced: "
                     f"{new:.2f}x ({result['texts_per_s'][key]:.1f} texts/s) here")
    return lines


def finetune_speed(texts: list[str], labels: np.ndarray, n: int, n_val: int, repeats: int,
                   threads: int | None) -> dict:
    """One epoch of fine-tuning on n texts, fp32 and bf16 interleaved: texts/s of the epoch, and the
    accuracy of the tuned head on n_val other texts (same seed and data for both precisions)."""
    from dataclasses import replace

    from sklearn.model_selection import train_test_split

    from fraudlens.models.text_finetune import fine_tune
    from fraudlens.models.text_model import CombinedSettings
    from fraudlens.text_config import load_text_config

    base = CombinedSettings.from_config(load_text_config(ROOT / "configs" / "text.yaml")).finetune
    sample, rest = train_test_split(np.arange(len(texts)), train_size=n, random_state=0, stratify=labels)
    val = rest[:n_val]
    sample_texts, sample_y = [texts[i] for i in sample], labels[sample]
    val_texts, val_y = [texts[i] for i in val], labels[val]

    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    losses: dict[str, float] = {}
    accuracy: dict[str, float] = {}
    for repeat in range(repeats):
        for precision in rates:
            settings = replace(base, epochs=1, precision=precision, threads=threads)
            with tempfile.TemporaryDirectory() as out:
                tuned = fine_tune(sample_texts, sample_y, val_texts, val_y, out_dir=out, settings=settings)
            epoch = tuned.history[0]
            rates[precision].append(epoch["train_texts_per_s"])
            losses[precision] = epoch["train_loss"]
            accuracy[precision] = epoch.get("val_accuracy")
            log.info("fine-tune repeat %d %s: %.1f texts/s, loss %.4f", repeat, precision,
                     epoch["train_texts_per_s"], epoch["train_loss"])
    best = {p: max(r) for p, r in rates.items()}
    return {"texts": n, "settings": {k: v for k, v in vars(base).items() if k not in ("precision", "threads")},
            "texts_per_s_best": {p: round(v, 2) for p, v in best.items()},
            "texts_per_s_median": {p: round(statistics.median(r), 2) for p, r in rates.items()},
            "bf16_over_fp32": round(best["bf16"] / best["fp32"], 3), "epoch_train_loss": losses,
            "val_texts": len(val_texts), "val_accuracy": accuracy}


def markdown(result: dict, command: str) -> str:
    runs, st = result["runs"], result["texts_per_s"]["sentence_transformers"]
    default = result["default_path"]
    lines = [
        "### Encoding speed on CPU",
        "",
        f"{result['texts']} Salminen review texts"
        + (f" (a random sample of the {result['texts_in_file']}, seed 0)" if result["texts"] < result["texts_in_file"]
           else "") + f" (mean {result['mean_tokens']:.0f} tokens, "
        f"{result['share_over_128_tokens']:.0%} longer than 128), one process, MiniLM-L6, torch threads "
        f"{result['threads']}, fraudlens batches of at most {result['batch_size']} texts and "
        f"{result['batch_tokens']} padded tokens (sentence-transformers: batch {result['st_batch_size']}), "
        f"{result['repeats']} interleaved runs of each "
        f"(best and median). CPU: {result['cpu_model']} ({result['machine']}), flags "
        f"{', '.join(result['cpu_flags']) or 'none of note'}; `precision: auto` resolves to "
        f"**{result['auto_precision']}** here.",
        "",
        "| encoder | texts/s (best) | texts/s (median) | vs sentence-transformers (best) | cosine to fp32 (mean / min) |",
        "|---|---|---|---|---|",
    ]
    for key, label in LABELS.items():
        if key in runs:
            agreement = result["agreement_to_fp32"].get(key)
            cos = f"{agreement['mean']:.5f} / {agreement['min']:.5f}" if agreement else ""
            name = f"**{label}** (default)" if key == default else label
            lines.append(f"| {name} | {runs[key]['texts_per_s_best']:.1f} | {runs[key]['texts_per_s_median']:.1f} | "
                         f"{runs[key]['texts_per_s_best'] / st:.2f}x | {cos} |")
    speedup = result["default_speedup"]
    lines += [
        "",
        f"- Default path ({default}) vs sentence-transformers in this run: **{speedup:.2f}x** "
        f"(target >= 3x: {'met' if speedup >= 3 else 'missed'}).",
        f"- Cache: warm (every text already cached) runs at {result['warm_texts_per_s']:.0f} texts/s, "
        f"**{result['warm_over_cold']:.0f}x** the cold first pass of the default path "
        f"({result['cold_texts_per_s']:.1f} texts/s).",
        f"- Agreement: fraudlens fp32 vs sentence-transformers embeddings, mean cosine "
        f"{result['agreement']['fp32_vs_st_cosine_mean']:.5f} (texts within 128 tokens: "
        f"{result['agreement']['fp32_vs_st_cosine_short_min']:.5f} minimum).",
    ]
    ft = result.get("finetune")
    if ft:
        lines.append(f"- Fine-tuning (one epoch of configs/text.yaml's settings on a stratified sample of "
                     f"{ft['texts']} texts, best of {result['repeats']}): fp32 {ft['texts_per_s_best']['fp32']:.1f}, "
                     f"bf16 (fp32 master weights) {ft['texts_per_s_best']['bf16']:.1f} texts/s, **{ft['bf16_over_fp32']:.2f}x** "
                     f"(medians {ft['texts_per_s_median']['fp32']:.1f} / {ft['texts_per_s_median']['bf16']:.1f}); "
                     f"accuracy of the one-epoch models on {ft['val_texts']} other texts: fp32 "
                     f"{ft['val_accuracy']['fp32']:.2%}, bf16 {ft['val_accuracy']['bf16']:.2%} (a sample check, "
                     "not the Salminen protocol).")
    lines += [f"- Earlier number not reproduced: {line}." for line in result["not_reproduced"]]
    lines += [
        f"- Load average {result['load_average_start']:.1f} at start, {result['load_average_end']:.1f} at the end "
        f"(per repeat: {', '.join(f'{x:.1f}' for x in result['load_average_per_repeat'])}); absolute numbers "
        "move with other jobs on the machine, ratios of interleaved runs much less.",
        "",
        "```bash",
        command,
        "```",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for every configuration")
    parser.add_argument("--batch-size", type=int, default=256, help="most texts per fraudlens batch")
    parser.add_argument("--batch-tokens", type=int, default=8192, help="most padded tokens per fraudlens batch")
    parser.add_argument("--st-batch-size", type=int, default=64, help="sentence-transformers batch size")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--explore", action="store_true", help="also time the variants tried for the default path")
    parser.add_argument("--finetune-texts", type=int, default=512, help="fine-tuning speed sample (0: skip)")
    parser.add_argument("--finetune-val-texts", type=int, default=400, help="accuracy check of the tuned heads")
    parser.add_argument("--limit", type=int, default=None,
                        help="a random sample of N texts (seed 0; a shorter run on a busy machine, or a smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "text_speed.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--marker", default="text-speed", help="docs block to write (e.g. text-speed-explore for a "
                        "separate --explore run, which then keeps its own results file via --out)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not args.data.is_file():
        print(f"error: {args.data} not found - the Salminen data set is not here; pass --data PATH/TO/reviews_dev.csv "
              "(see ../shared/data/README.md)", file=sys.stderr)
        return 2
    if args.repeats < 3:
        log.warning("--repeats %d: fewer than 3 runs make a median of little use", args.repeats)

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from fraudlens.models.text_encoder import TextEncoder, default_model_dir, resolve_precision

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    frame = pd.read_csv(args.data)
    texts_in_file = len(frame)
    texts = frame["text"].fillna("").astype(str).tolist()
    labels = (frame["label"].astype(str).str.upper() == "CG").astype(int).to_numpy()
    if args.limit and args.limit < len(texts):
        keep = np.sort(np.random.default_rng(0).choice(len(texts), args.limit, replace=False))
        texts, labels = [texts[i] for i in keep], labels[keep]
    model_dir = default_model_dir()
    auto = resolve_precision("auto")
    settings = {"max_length": args.max_length, "batch_size": args.batch_size, "batch_tokens": args.batch_tokens}

    encoders = {f"fraudlens_{p}": TextEncoder(model_dir, precision=p, **settings) for p in ("fp32", "bf16", "int8")}
    st = SentenceTransformer(str(model_dir), device="cpu")
    st128 = SentenceTransformer(str(model_dir), device="cpu")
    st128.max_seq_length = args.max_length
    runs = {name: encoder.encode for name, encoder in encoders.items()}
    runs["sentence_transformers"] = lambda t: st.encode(t, batch_size=args.st_batch_size, show_progress_bar=False)
    runs["sentence_transformers_max128"] = lambda t: st128.encode(t, batch_size=args.st_batch_size,
                                                                  show_progress_bar=False)
    if args.explore:
        autocast = encoders["fraudlens_fp32"]

        def under_autocast(t):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return autocast.encode(t)

        eager = TextEncoder(model_dir, precision="bf16", **settings)
        eager.model = AutoModel.from_pretrained(model_dir, local_files_only=True,
                                                attn_implementation="eager").eval().to(torch.bfloat16)
        runs["explore_bf16_autocast"] = under_autocast
        runs["explore_bf16_eager_attention"] = eager.encode
        runs["explore_bf16_rows64"] = TextEncoder(model_dir, precision="bf16", max_length=args.max_length,
                                                  batch_size=64, batch_tokens=None).encode
        runs["explore_bf16_tokens16384"] = TextEncoder(model_dir, precision="bf16", max_length=args.max_length,
                                                       batch_size=1024, batch_tokens=16384).encode
        compiled = TextEncoder(model_dir, precision="bf16", **settings)
        compiled.model = torch.compile(compiled.model, dynamic=True)
        runs["explore_bf16_compiled"] = compiled.encode
    lengths = np.array([len(ids) for ids in encoders["fraudlens_fp32"].tokenizer(texts)["input_ids"]])
    warm_up_s = {}
    for name, warm_up in runs.items():  # first-call allocations, lazy imports, kernel selection, compilation
        started = time.perf_counter()
        warm_up(texts[:64])
        warm_up_s[name] = round(time.perf_counter() - started, 2)

    seconds: dict[str, list[float]] = {name: [] for name in runs}
    outputs: dict[str, np.ndarray] = {}
    load_per_repeat = []
    for repeat in range(args.repeats):
        load_per_repeat.append(round(os.getloadavg()[0], 2))
        for name, fn in runs.items():
            started = time.perf_counter()
            outputs[name] = np.asarray(fn(texts))
            seconds[name].append(time.perf_counter() - started)
            log.info("repeat %d %s: %.1f s (%.1f texts/s), load %.1f", repeat, name, seconds[name][-1],
                     len(texts) / seconds[name][-1], os.getloadavg()[0])

    default = f"fraudlens_{auto}"
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        cold = TextEncoder(model_dir, cache_dir=cache, precision=auto, **settings).encode(texts)
        cold_s = time.perf_counter() - started
        warm_times = []
        for _ in range(args.repeats):
            warm_encoder = TextEncoder(model_dir, cache_dir=cache, precision=auto, **settings)
            started = time.perf_counter()
            warm = warm_encoder.encode(texts)
            warm_times.append(time.perf_counter() - started)
            assert warm_encoder.stats == {"encoded": 0, "cache_hits": len(set(texts))}
            assert np.array_equal(warm, cold)
        warm_s = min(warm_times)
    log.info("cache: cold %.1f s, warm %.3f s", cold_s, warm_s)

    finetune = (finetune_speed(texts, labels, min(args.finetune_texts, len(texts) // 2), args.finetune_val_texts,
                               args.repeats, args.threads) if args.finetune_texts else None)

    short = lengths <= args.max_length
    summaries = {name: summary(s, len(texts)) for name, s in seconds.items()}
    tps = {name: s["texts_per_s_best"] for name, s in summaries.items()}
    fp32 = outputs["fraudlens_fp32"]
    agreement_to_fp32 = {}
    for name, out in outputs.items():
        if name.startswith(("fraudlens_", "explore_")) and name != "fraudlens_fp32":
            c = cosine(out, fp32)
            agreement_to_fp32[name] = {"mean": float(c.mean()), "min": float(c.min())}
    result = {
        "texts_per_s": tps,
        "runs": summaries,
        "default_path": default,
        "auto_precision": auto,
        "default_speedup": round(tps[default] / tps["sentence_transformers"], 3),
        "speedup_vs_sentence_transformers": {k: round(v / tps["sentence_transformers"], 3) for k, v in tps.items()},
        "best_speedup": round(max(v for k, v in tps.items() if k.startswith("fraudlens_"))
                              / tps["sentence_transformers"], 3),
        "warm_over_cold": round(cold_s / warm_s, 1),
        "cold_texts_per_s": round(len(texts) / cold_s, 2),
        "warm_texts_per_s": round(len(texts) / warm_s, 1),
        "seconds": {"cold": round(cold_s, 3), "warm": round(warm_s, 4)},
        "warm_up_s": warm_up_s,
        "agreement_to_fp32": agreement_to_fp32,
        "agreement": {
            "fp32_vs_st_cosine_mean": float(cosine(fp32, outputs["sentence_transformers"]).mean()),
            "fp32_vs_st_cosine_short_min": float(cosine(fp32[short], outputs["sentence_transformers"][short]).min()),
            "int8_vs_fp32_cosine_mean": agreement_to_fp32["fraudlens_int8"]["mean"],
            "bf16_vs_fp32_cosine_mean": agreement_to_fp32["fraudlens_bf16"]["mean"],
        },
        "finetune": finetune,
        "texts": len(texts),
        "texts_in_file": texts_in_file,
        "unique_texts": len(set(texts)),
        "mean_tokens": float(lengths.mean()),
        "share_over_128_tokens": float((lengths > args.max_length).mean()),
        "batch_size": args.batch_size,
        "batch_tokens": args.batch_tokens,
        "st_batch_size": args.st_batch_size,
        "max_length": args.max_length,
        "threads": args.threads or torch.get_num_threads(),
        "repeats": args.repeats,
        **cpu_description(),
        "load_average_start": load_start,
        "load_average_per_repeat": load_per_repeat,
        "load_average_end": os.getloadavg()[0],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    command = "python benchmarks/text_speed.py" + "".join(
        f" {a}" for a in map(shlex.quote, (argv if argv is not None else sys.argv[1:])))
    result["command"] = command
    earlier = json.loads(args.out.read_text()) if args.out.exists() else None
    result["not_reproduced"] = not_reproduced(result, earlier)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    update_doc(args.doc, args.marker, markdown(result, command), "Text model")
    print(json.dumps({k: result[k] for k in ("texts_per_s", "default_speedup", "agreement_to_fp32", "finetune",
                                             "not_reproduced")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
