"""Stage progress: live on a terminal, short plain log lines otherwise, silent with --quiet;
and the CLI options and end-of-run summary that build on it."""

import io
import json
import re

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from fraudlens.cli.reporter import Reporter


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=120, color_system="standard" if terminal else None)


def test_plain_lines_when_not_a_terminal_with_progress_every_tenth():
    out = console(terminal=False)
    reporter = Reporter(console=out)
    assert not reporter.live
    with reporter.stage("embed", total=1000):
        for _ in range(1000):
            reporter.advance(1, note="loss=0.1")
    with reporter.stage("write"):
        pass
    lines = out.file.getvalue().splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ stage ", line) for line in lines), lines
    assert lines[0].endswith("stage embed: started (1,000 to do)")
    progress = [line for line in lines if "%" in line]
    assert len(progress) == 10 and progress[-1].endswith("1,000/1,000 (100 %)  loss=0.1")
    assert re.search(r"stage embed: done in \d+\.\d s, 1,000 done, peak RSS \d+\.\d\d GiB$", lines[11])
    assert "stage write: started" in lines[12] and "stage write: done in" in lines[13]
    assert "\x1b[" not in out.file.getvalue()  # no terminal control codes in a log file
    assert set(reporter.timings) == {"embed", "write"}


def test_live_progress_on_a_terminal():
    out = console(terminal=True)
    reporter = Reporter(console=out)
    assert reporter.live
    with reporter.stage("train", total=5):
        for _ in range(5):
            reporter.advance()
        reporter.info("trained")
    text = out.file.getvalue()
    assert "train" in text and "5/5" in text and "trained" in text
    assert "stage train: started" not in text  # the plain log form is for non-terminals


def test_quiet_prints_nothing_but_keeps_timings():
    out = console(terminal=False)
    reporter = Reporter(quiet=True, console=out)
    with reporter.stage("score", total=3):
        reporter.advance(3)
    reporter.info("hello")
    reporter.print("summary")
    assert out.file.getvalue() == ""
    assert reporter.timings["score"] >= 0


def test_a_failing_stage_is_logged_and_reraised():
    out = console(terminal=False)
    reporter = Reporter(console=out)
    with pytest.raises(ValueError):
        with reporter.stage("ingest"):
            raise ValueError("bad table")
    assert "stage ingest: failed in" in out.file.getvalue()
    assert "ingest" in reporter.timings


def test_info_strips_markup_in_plain_mode():
    out = console(terminal=False)
    Reporter(console=out).info("[bold]1/5[/] generating")
    assert out.file.getvalue().rstrip().endswith(" 1/5 generating")


@pytest.mark.parametrize("command,options", [("score", ("--quiet", "--previous", "--no-report", "--labels")),
                                             ("train", ("--quiet",)), ("demo", ("--quiet",))])
def test_cli_commands_offer_quiet_and_report_options(command, options):
    from fraudlens.cli import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, (command, option)


def test_score_summary_shows_counts_flags_rings_outputs_and_stage_times(tmp_path):
    from fraudlens import cli
    from fraudlens.inference.batch import ScoreRun
    from tests.test_report import MANIFEST, make_score_dir

    out = make_score_dir(tmp_path / "scores")
    outputs = {"review": out / "review_scores.parquet", "review_csv": out / "review_scores.csv",
               "order": out / "order_scores.parquet", "quarantine": out / "quarantine.parquet"}
    run = ScoreRun(run_id=MANIFEST["run_id"], out_dir=out, outputs=outputs, manifest=json.loads(
        (out / "manifest.json").read_text()))
    screen = console(terminal=False)
    reporter = Reporter(console=screen)
    with reporter.stage("score"):
        pass
    cli._print_score_summary(reporter, run, out / "report.html", None, 1.5)
    text = screen.file.getvalue()
    assert MANIFEST["run_id"] in text and "models:/fraudlens/3" in text
    reviews = pd.read_parquet(out / "review_scores.parquet")
    flagged = int((reviews["decision"] == "flag").sum())
    assert re.search(rf"reviews\s+1,207\s+1,200\s+7\s+{flagged:,}", text), text
    assert re.search(r"orders\s+903\s+900\s+3\s+\d", text)
    assert "top rings (2 in all)" in text and "<script>" in text  # plain text on a console, not markup
    assert str(out / "report.html") in text and "review_scores.csv" not in text
    assert re.search(r"stage times: score \d+\.\d s", text)
    assert len(text.splitlines()) < 40  # one screen


def test_score_summary_is_silent_when_quiet(tmp_path):
    from fraudlens import cli
    from fraudlens.inference.batch import ScoreRun
    from tests.test_report import make_score_dir

    out = make_score_dir(tmp_path / "scores")
    run = ScoreRun("S-x", out, {}, json.loads((out / "manifest.json").read_text()))
    screen = console(terminal=False)
    cli._print_score_summary(Reporter(quiet=True, console=screen), run, None, None, 1.0)
    assert screen.file.getvalue() == ""

