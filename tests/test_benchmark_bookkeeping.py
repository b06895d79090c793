"""What the speed and scale benchmarks conclude from their numbers: which earlier results did
not reproduce, and when a cold night is estimated rather than measured."""

from benchmarks import batch_scale, text_speed


def _speed(cpu: str, texts_per_s: dict, ratios: dict) -> dict:
    return {"cpu_model": cpu, "cpu_flags": ["avx512_bf16"], "texts_per_s": texts_per_s,
            "speedup_vs_sentence_transformers": ratios, "command": "python benchmarks/text_speed.py",
            "load_average_start": 1.0}


def test_reproduction_is_judged_on_the_interleaved_ratios_and_names_a_cpu_change():
    earlier = _speed("cpu A", {"fraudlens_bf16": 60.0, "fraudlens_int8": 60.0}, {"fraudlens_bf16": 2.5, "fraudlens_int8": 2.4})
    # Twice the texts/s at the same ratio (a quieter machine) reproduces; a ratio that moved does not.
    same_cpu = _speed("cpu A", {"fraudlens_bf16": 120.0, "fraudlens_int8": 120.0}, {"fraudlens_bf16": 2.6, "fraudlens_int8": 3.4})
    lines = text_speed.not_reproduced(same_cpu, earlier)
    assert len(lines) == 1 and "int8" in lines[0] and "2.40x" in lines[0] and "3.40x" in lines[0]
    other_cpu = _speed("cpu B", same_cpu["texts_per_s"], {"fraudlens_bf16": 2.5, "fraudlens_int8": 2.4})
    lines = text_speed.not_reproduced(other_cpu, earlier)
    assert len(lines) == 1 and "another CPU (cpu A" in lines[0]
    assert text_speed.not_reproduced(same_cpu, None) == []


def _run(size: int, cache: str, wall: float, embed: float, texts: int) -> dict:
    return {"size": size, "reviews": size, "orders": size, "cache": cache, "wall_s": wall, "stages_s": {"embed texts": embed, "text model": 1.0},
            "texts_encoded": texts if cache == "cold" else 0, "texts_from_cache": texts}


def test_a_cold_night_is_estimated_only_for_a_size_larger_than_the_measured_cold_run():
    small = [_run(100_000, "cold", 300.0, 201.0, 1000), _run(100_000, "warm", 50.0, 1.0, 1000)]
    assert batch_scale.cold_night_estimate(small) is None
    estimate = batch_scale.cold_night_estimate(small + [_run(1_000_000, "warm", 200.0, 5.0, 10_000)])
    # 0.2 s per text (200 s of extra encoding for 1,000 texts) over 10,000 texts, plus the warm run.
    assert estimate["size"] == 1_000_000 and abs(estimate["minutes"] - (200.0 + 0.2 * 10_000) / 60) < 0.1


def test_each_cold_run_is_held_to_the_target_of_its_size():
    runs = [_run(100_000, "cold", 194.0, 118.0, 1000), _run(1_000_000, "cold", 1756.0, 1128.0, 10_000)]
    small, large = batch_scale.cold_verdicts(runs)
    assert small.endswith("194 s against 200 s (met)")
    assert "measured: 29 min against 45 min (met)" in large
    assert batch_scale.cold_verdicts([_run(100_000, "cold", 289.0, 207.0, 1000)])[0].endswith("(missed)")
