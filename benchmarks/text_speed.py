"""Text-encoding speed on CPU: fraudlens TextEncoder (fp32, int8) vs sentence-transformers, cold vs warm cache.

All on the Salminen review texts, in one process, same MiniLM-L6 weights, same torch threads:

- fraudlens_fp32: ``TextEncoder`` (max_length from configs/text.yaml, 128): token-length-sorted
  batches with dynamic padding, ``inference_mode``, duplicates encoded once;
- fraudlens_int8: the same with ``quantize=True`` (int8 dynamic quantisation of Linear layers);
- sentence_transformers: ``SentenceTransformer(<same model dir>, device="cpu").encode(texts,
  batch_size=...)`` with the model's own settings (max_seq_length 256); also reported with
  max_seq_length set to fraudlens' 128, to separate the truncation gain from the rest;
- cold vs warm: ``TextEncoder`` with an embedding cache, first call (computes and stores) vs the
  same texts through a fresh encoder on the same cache (loads, hashes, looks up).

Each configuration runs ``--repeats`` times, interleaved (so a burst of load from other jobs on
a shared machine hits all of them alike); the best run counts.

    python benchmarks/text_speed.py [--data PATH] [--threads N]

Writes benchmarks/results/text_speed.json and the "Speed" block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
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


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def markdown(result: dict, command: str) -> str:
    tps = result["texts_per_s"]
    st = tps["sentence_transformers"]
    lines = [
        "### Encoding speed on CPU",
        "",
        f"{result['texts']} Salminen review texts (mean {result['mean_tokens']:.0f} tokens, "
        f"{result['share_over_128_tokens']:.0%} longer than 128), one process, MiniLM-L6, torch threads "
        f"{result['threads']}, batch {result['batch_size']}, best of {result['repeats']} interleaved runs.",
        "",
        "| encoder | texts/s | vs sentence-transformers |",
        "|---|---|---|",
    ]
    labels = {
        "fraudlens_fp32": "fraudlens fp32 (max_length 128, length-sorted, inference_mode)",
        "fraudlens_int8": "fraudlens int8 (same + dynamic int8 Linear layers)",
        "sentence_transformers": "sentence-transformers `encode` (its max_seq_length 256)",
        "sentence_transformers_max128": "sentence-transformers, max_seq_length set to 128",
    }
    for key, label in labels.items():
        if key in tps:
            lines.append(f"| {label} | {tps[key]:.1f} | {tps[key] / st:.2f}x |")
    lines += [
        "",
        f"- Cache: warm (every text already cached) runs at {result['warm_texts_per_s']:.0f} texts/s, "
        f"**{result['warm_over_cold']:.0f}x** the cold first pass ({result['cold_texts_per_s']:.1f} texts/s).",
        f"- Agreement: fraudlens fp32 vs sentence-transformers embeddings, mean cosine "
        f"{result['agreement']['fp32_vs_st_cosine_mean']:.5f} (texts within 128 tokens: "
        f"{result['agreement']['fp32_vs_st_cosine_short_min']:.5f} minimum); int8 vs fp32 mean cosine "
        f"{result['agreement']['int8_vs_fp32_cosine_mean']:.4f}.",
        f"- Targets: fraudlens >= 3x sentence-transformers: best {result['best_speedup']:.2f}x "
        f"({'met' if result['best_speedup'] >= 3 else 'missed'}); warm >= 50x cold: "
        f"{'met' if result['warm_over_cold'] >= 50 else 'missed'}.",
        f"- Load average {result['load_average_start']:.1f} at start, {result['load_average_end']:.1f} at the end "
        f"({result['machine']}); absolute numbers move with other jobs on the machine, ratios much less.",
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
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N texts only (smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "text_speed.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("transformers", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not args.data.is_file():
        print(f"error: {args.data} not found - the Salminen data set is not here; pass --data PATH/TO/reviews_dev.csv "
              "(see ../shared/data/README.md)", file=sys.stderr)
        return 2

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    from fraudlens.models.text_encoder import TextEncoder, default_model_dir

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    texts = pd.read_csv(args.data)["text"].fillna("").astype(str).tolist()
    if args.limit:
        texts = texts[:args.limit]
    model_dir = default_model_dir()

    fp32 = TextEncoder(model_dir, max_length=args.max_length, batch_size=args.batch_size)
    int8 = TextEncoder(model_dir, max_length=args.max_length, batch_size=args.batch_size, quantize=True)
    st = SentenceTransformer(str(model_dir), device="cpu")
    st128 = SentenceTransformer(str(model_dir), device="cpu")
    st128.max_seq_length = args.max_length
    lengths = np.array([len(ids) for ids in fp32.tokenizer(texts)["input_ids"]])

    runs = {
        "fraudlens_fp32": lambda: fp32.encode(texts),
        "fraudlens_int8": lambda: int8.encode(texts),
        "sentence_transformers": lambda: st.encode(texts, batch_size=args.batch_size, show_progress_bar=False),
        "sentence_transformers_max128": lambda: st128.encode(texts, batch_size=args.batch_size,
                                                             show_progress_bar=False),
    }
    for warm_up in (fp32.encode, int8.encode, st.encode, st128.encode):  # first-call allocations, lazy imports
        warm_up(texts[:16])
    best: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}
    for repeat in range(args.repeats):
        for name, fn in runs.items():
            seconds, value = timed(fn)
            outputs[name] = np.asarray(value)
            best[name] = min(best.get(name, np.inf), seconds)
            log.info("repeat %d %s: %.1f s (%.1f texts/s)", repeat, name, seconds, len(texts) / seconds)

    with tempfile.TemporaryDirectory() as cache:
        cold_encoder = TextEncoder(model_dir, max_length=args.max_length, batch_size=args.batch_size, cache_dir=cache)
        cold_s, cold = timed(lambda: cold_encoder.encode(texts))
        warm_times = []
        for _ in range(max(args.repeats, 2)):
            warm_encoder = TextEncoder(model_dir, max_length=args.max_length, batch_size=args.batch_size,
                                       cache_dir=cache)
            seconds, warm = timed(lambda: warm_encoder.encode(texts))
            warm_times.append(seconds)
            assert warm_encoder.stats == {"encoded": 0, "cache_hits": len(set(texts))}
            assert np.array_equal(warm, cold)
        warm_s = min(warm_times)
    log.info("cache: cold %.1f s, warm %.3f s", cold_s, warm_s)

    def cosine(a, b):
        return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    short = lengths <= args.max_length
    tps = {name: len(texts) / seconds for name, seconds in best.items()}
    result = {
        "texts_per_s": {k: round(v, 2) for k, v in tps.items()},
        "warm_over_cold": round(cold_s / warm_s, 1),
        "speedup_vs_sentence_transformers": {k: round(v / tps["sentence_transformers"], 3) for k, v in tps.items()},
        "best_speedup": round(max(tps["fraudlens_fp32"], tps["fraudlens_int8"]) / tps["sentence_transformers"], 3),
        "cold_texts_per_s": round(len(texts) / cold_s, 2),
        "warm_texts_per_s": round(len(texts) / warm_s, 1),
        "seconds": {**{k: round(v, 3) for k, v in best.items()}, "cold": round(cold_s, 3), "warm": round(warm_s, 4)},
        "agreement": {
            "fp32_vs_st_cosine_mean": float(cosine(outputs["fraudlens_fp32"], outputs["sentence_transformers"]).mean()),
            "fp32_vs_st_cosine_short_min": float(cosine(outputs["fraudlens_fp32"][short],
                                                        outputs["sentence_transformers"][short]).min()),
            "int8_vs_fp32_cosine_mean": float(cosine(outputs["fraudlens_int8"], outputs["fraudlens_fp32"]).mean()),
        },
        "texts": len(texts),
        "unique_texts": len(set(texts)),
        "mean_tokens": float(lengths.mean()),
        "share_over_128_tokens": float((lengths > args.max_length).mean()),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": args.threads or torch.get_num_threads(),
        "repeats": args.repeats,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "load_average_start": load_start,
        "load_average_end": os.getloadavg()[0],
    }
    command = "python benchmarks/text_speed.py" + "".join(
        f" {a}" for a in map(shlex.quote, (argv if argv is not None else sys.argv[1:])))
    result["command"] = command
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    update_doc(args.doc, "text-speed", markdown(result, command), "Text model")
    print(json.dumps({k: result[k] for k in ("texts_per_s", "warm_over_cold", "speedup_vs_sentence_transformers")},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
