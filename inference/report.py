"""The per-run HTML report: one self-contained file a trust analyst can open from the output directory.

The numbers come from ``run_summary`` (what a run directory holds) and ``drift`` (against an
earlier run); this module only turns them into tables, figures and the page.

Everything in it is inline (CSS, PNG images as base64) so the file can be mailed or archived
alone, and no JavaScript is needed. Every value that came from input data (ids, review text,
reason texts, quarantine messages) goes through ``html.escape``; the page also carries a
Content-Security-Policy that forbids scripts, so a missed escape would still not run anything.
Score files may hold a million rows: distributions come from ``numpy.histogram`` and tables
show the top N only.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fraudlens.inference.drift import score_drift
from fraudlens.inference.outputs import atomic_write_bytes
from fraudlens.inference.run_summary import (
    FLAG_THRESHOLD,
    REPORTED_REASONS,
    flag_rule,
    flagged_mask,
    read_manifest,
    read_quarantine,
    read_rings,
    read_run_scores,
    top_rows,
)
from fraudlens.output_contract import (
    DECISION_COLUMN,
    ENTITY_ID,
    ENTITY_TABLES,
    MANIFEST_FILE,
    QUARANTINE_FILE,
    RANK_COLUMN,
    REPORT_FILE,
    RING_COLUMN,
    RINGS_FILE,
    SCORE_COLUMN,
)

TEXT_PREVIEW_CHARS = 200
HIST_BINS = 50
CURVE_POINTS = 2000

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1180px;color:#1d2733;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #dde3ea;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #dde3ea;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f5f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#5b6b7b;font-size:.9em}.note{color:#5b6b7b;font-style:italic}
.figs{display:flex;flex-wrap:wrap;gap:1em}.figs figure{margin:0}figcaption{font-size:.85em;color:#5b6b7b}
.ring{display:flex;gap:1em;align-items:flex-start;border:1px solid #dde3ea;padding:.6em;margin:.6em 0;border-radius:6px}
.text{max-width:420px;white-space:pre-wrap;word-break:break-word}.warn{color:#a33;font-weight:600}
"""


def _e(value) -> str:
    """Escapes anything for HTML text or attribute context; None and NaN read as empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True)


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{float(value):.4g}"
    return _e(value)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    # Figure without pyplot: no global state, nothing to close, safe inside a long-running process.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=90)


def _img(src: str, alt: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{src}" alt="{_e(alt)}">{cap}</figure>'


def _table(headers: list[str] | None, rows: list[list[str]], attrs: str = "") -> str:
    """Cells are already-rendered HTML: callers escape data with _e / _num. No headers: a key/value table."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers or [])
    body = "".join("<tr>" + "".join(rows_cell if rows_cell.startswith("<td") else f"<td>{rows_cell}</td>"
                                    for rows_cell in row) + "</tr>" for row in rows)
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table{attrs}>{thead}<tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- inputs


def read_review_texts(input_dir: Path) -> pd.DataFrame | None:
    """review_id and text from an input directory's reviews table, for the top-reviews table."""
    input_dir = Path(input_dir)
    table, columns = ENTITY_TABLES["review"], [ENTITY_ID["review"], "text"]
    parquet, csv = input_dir / f"{table}.parquet", input_dir / f"{table}.csv"
    try:
        if parquet.exists():
            return pq.read_table(parquet, columns=columns).to_pandas()
        if csv.exists():
            return pd.read_csv(csv, usecols=columns, dtype=str, keep_default_na=False)
    except (ValueError, KeyError, OSError):
        return None  # an unusable reviews table was already reported by ingest; the report just shows no text
    return None



# ---------------------------------------------------------------- sections


def _counts_section(manifest: dict, quarantine: pd.DataFrame | None) -> str:
    inputs = manifest.get("inputs", {})
    if not inputs:
        return f"<h2>Counts</h2><p class='note'>No {MANIFEST_FILE} in this directory: counts unavailable.</p>"
    rows = []
    for table, entry in inputs.items():
        kept_key = "rows_scored" if "rows_scored" in entry else "rows_accepted"
        cells = []
        for key, value in (("rows_read", entry.get("rows_read")), (kept_key, entry.get(kept_key)),
                           ("rows_quarantined", entry.get("rows_quarantined"))):
            cells.append(f'<td class="num" id="count-{_e(table)}-{key}">{_num(value)}</td>')
        rows.append([_e(table), *cells, _e("scored" if kept_key == "rows_scored" else "used")])
    out = ["<h2>Counts</h2>", _table(["table", "rows in", "scored / used", "quarantined", ""], rows,
                                     ' id="counts"')]
    reasons = [[_e(t), _e(r), f'<td class="num">{_num(int(n))}</td>']
               for t, entry in inputs.items() for r, n in (entry.get("quarantined_by_reason") or {}).items()]
    out.append("<h3>Quarantine by reason</h3>")
    out.append(_table(["table", "reason", "rows"], reasons, ' id="quarantine-reasons"') if reasons
               else "<p class='note'>No rows were quarantined.</p>")
    if quarantine is not None and len(quarantine):
        cols = [c for c in ("table", "file", "row", "column", "reason", "message") if c in quarantine.columns]
        sample = quarantine.head(10)
        out.append(f"<p class='meta'>First {len(sample)} of {len(quarantine):,} quarantined rows "
                   f"(all of them in {QUARANTINE_FILE}):</p>")
        out.append(_table(cols, [[_e(v) for v in row] for row in sample[cols].itertuples(index=False)]))
    return "\n".join(out)


def _histogram_figure(values: np.ndarray, title: str, previous: np.ndarray | None = None) -> str:
    lo = min(0.0, float(np.nanmin(values)) if len(values) else 0.0)
    hi = max(1.0, float(np.nanmax(values)) if len(values) else 1.0)
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    fig = _figure(4.8, 2.8)
    ax = fig.subplots()
    counts, _ = np.histogram(values, bins=edges)
    if previous is None:
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#3b6ea5", edgecolor="white",
               linewidth=0.3)
        ax.set_ylabel("rows")
        # Fraud scores pile up near zero; a log axis keeps the tail visible next to that spike.
        nonzero = counts[counts > 0]
        if len(nonzero) and counts.max() > 20 * np.median(nonzero):
            ax.set_yscale("log")
    else:
        prev_counts, _ = np.histogram(previous, bins=edges)
        share = counts / max(1, counts.sum())
        prev_share = prev_counts / max(1, prev_counts.sum())
        ax.stairs(prev_share, edges, label=f"previous ({len(previous):,})", color="#999999", fill=True, alpha=0.5)
        ax.stairs(share, edges, label=f"this run ({len(values):,})", color="#c0392b", linewidth=1.5)
        ax.set_ylabel("share of rows")
        ax.legend(fontsize=8)
    ax.set_xlabel("score")
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _distribution_section(scores: dict[str, pd.DataFrame], threshold: float) -> str:
    out = ["<h2>Score distributions</h2>"]
    if not scores:
        return out[0] + "<p class='note'>No score files found.</p>"
    rows, figs = [], []
    for entity, frame in scores.items():
        values = frame[SCORE_COLUMN].to_numpy(dtype=float)
        q = np.nanquantile(values, [0.5, 0.9, 0.99]) if len(values) else [np.nan] * 3
        flagged = int(flagged_mask(frame, threshold).sum())
        rows.append([_e(entity), f'<td class="num" id="scored-{entity}">{_num(len(values))}</td>',
                     f'<td class="num" id="flagged-{entity}">{_num(flagged)}</td>',
                     *(f'<td class="num">{_num(float(x))}</td>' for x in
                       (np.nanmean(values) if len(values) else np.nan, *q))])
        if len(values):
            figs.append(_img(_histogram_figure(values, f"{entity} scores"), f"histogram of {entity} scores"))
        if DECISION_COLUMN in frame.columns:
            counts = frame[DECISION_COLUMN].astype("string").fillna("").value_counts()
            figs.append("<div>" + _table([f"{entity} decision", "rows"],
                                         [[_e(k), f'<td class="num">{_num(int(v))}</td>'] for k, v in counts.items()])
                        + "</div>")
    rules = "; ".join(f"{entity}: {flag_rule(frame, threshold)}" for entity, frame in scores.items())
    out.append(_table(["entity", "scored", "flagged", "mean", "median", "p90", "p99"], rows, ' id="distribution"'))
    out.append(f"<p class='meta'>flagged = {_e(rules)}</p>")
    out.append(f"<div class='figs'>{''.join(figs)}</div>")
    return "\n".join(out)


def _downsample(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= CURVE_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, CURVE_POINTS).astype(int))
    return x[keep], y[keep]


def _curves_section(scores: dict[str, pd.DataFrame], labels: pd.DataFrame | None) -> str:
    if labels is None:
        return ""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    out = ["<h2>Precision-recall and ROC against labels</h2>"]
    labels = labels.assign(entity_type=labels["entity_type"].astype("string"),
                           entity_id=labels["entity_id"].astype("string"))
    rows, figs = [], []
    for entity, frame in scores.items():
        id_column = ENTITY_ID[entity]
        known = labels[labels["entity_type"] == entity].drop_duplicates("entity_id", keep="last")
        joined = pd.DataFrame({"entity_id": frame[id_column].astype("string"), "score": frame[SCORE_COLUMN]}).merge(
            known[["entity_id", "is_fraud"]], on="entity_id", how="inner")
        y = pd.to_numeric(joined["is_fraud"].astype("string").str.lower().replace({"true": "1", "false": "0"}),
                          errors="coerce")
        ok = y.notna().to_numpy()
        y, s = y.to_numpy()[ok].astype(int), joined["score"].to_numpy(dtype=float)[ok]
        if len(np.unique(y)) < 2:
            rows.append([_e(entity), _num(len(y)), _num(int(y.sum())), "", "",
                         "<span class='note'>needs both classes among labelled rows</span>"])
            continue
        auroc, auprc = roc_auc_score(y, s), average_precision_score(y, s)
        rows.append([_e(entity), _num(len(y)), _num(int(y.sum())), f'<td class="num" id="auroc-{entity}">{auroc:.3f}</td>',
                     f'<td class="num" id="auprc-{entity}">{auprc:.3f}</td>', ""])
        precision, recall, _ = precision_recall_curve(y, s)
        fpr, tpr, _ = roc_curve(y, s)
        fig = _figure(6.4, 2.8)
        ax_pr, ax_roc = fig.subplots(1, 2)
        r, p = _downsample(recall[::-1], precision[::-1])
        ax_pr.plot(r, p, color="#3b6ea5")
        ax_pr.axhline(y.mean(), color="#999999", linestyle="--", linewidth=0.8, label=f"base rate {y.mean():.3f}")
        ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
                  title=f"{entity} PR (AUPRC {auprc:.3f})")
        ax_pr.legend(fontsize=7)
        f, t = _downsample(fpr, tpr)
        ax_roc.plot(f, t, color="#c0392b")
        ax_roc.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=0.8)
        ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02),
                   title=f"{entity} ROC (AUROC {auroc:.3f})")
        for ax in (ax_pr, ax_roc):
            ax.title.set_fontsize(9)
        fig.tight_layout()
        figs.append(_img(_png(fig), f"PR and ROC curves for {entity} scores"))
    out.append(_table(["entity", "labelled rows", "fraud", "AUROC", "AUPRC", ""], rows, ' id="label-metrics"'))
    out.append(f"<div class='figs'>{''.join(figs)}</div>")
    return "\n".join(out)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return list(value)
    if isinstance(value, float) and np.isnan(value):
        return []
    return [value]


def _shared_kinds(shared) -> list[tuple[str, list[str] | None]]:
    """(label, linked accounts or None for "the whole ring") per identifier kind.

    rings.py writes "device=2;ip=1" (kind=count); records with per-account links, a mapping, a
    list of labels or a bare count are read too, as the rings table may grow.
    """
    if isinstance(shared, str):
        parts = [p.strip() for p in shared.split(";") if p.strip()]
        return [(p.replace("=", " ×"), None) for p in parts]
    if isinstance(shared, dict):
        return [(f"{k} ×{v}" if isinstance(v, (int, np.integer)) else str(k), None) for k, v in shared.items()]
    out = []
    for i, item in enumerate(_as_list(shared)):
        if isinstance(item, dict):
            label = str(item.get("kind") or item.get("type") or f"id{i}")
            linked = [str(a) for a in _as_list(item.get("accounts"))] or None
            out.append((label, linked))
        elif isinstance(item, str):
            out.append((item, None))
    return out


def _ring_graph(accounts: list, shared):
    """Accounts and the identifier kinds linking them; without per-account links in the rings
    table, each kind is drawn as one hub shared by the ring (what the ring finder found), and
    with no link info at all a single hub stands for the ring."""
    import networkx as nx

    graph = nx.Graph()
    shown = [str(a) for a in accounts[:40]]  # a picture of 40+ nodes is a hairball, not information
    graph.add_nodes_from(shown, kind="account")
    hubs = [(f"{label[:16]}#{i}", [a for a in (linked or shown) if a in graph])
            for i, (label, linked) in enumerate(_shared_kinds(shared)[:8])] or [("ring#0", shown)]
    for hub, linked in hubs:
        graph.add_node(hub, kind="identifier")
        graph.add_edges_from((hub, a) for a in linked)
    return graph


def _ring_picture(accounts: list, shared) -> str:
    import networkx as nx

    graph = _ring_graph(accounts, shared)
    fig = _figure(2.6, 2.6)
    ax = fig.subplots()
    pos = nx.spring_layout(graph, seed=0)
    kinds = nx.get_node_attributes(graph, "kind")
    acc = [n for n in graph if kinds.get(n) == "account"]
    ids = [n for n in graph if kinds.get(n) == "identifier"]
    nx.draw_networkx_edges(graph, pos, ax=ax, edge_color="#b0b8c0", width=0.8)
    nx.draw_networkx_nodes(graph, pos, nodelist=acc, ax=ax, node_color="#3b6ea5", node_size=60)
    nx.draw_networkx_nodes(graph, pos, nodelist=ids, ax=ax, node_color="#c0392b", node_shape="s", node_size=90)
    nx.draw_networkx_labels(graph, pos, labels={n: n.split("#")[0] for n in ids}, ax=ax, font_size=7)
    ax.set_axis_off()
    return _png(fig)


def _rings_section(rings: pd.DataFrame | None, top: int) -> str:
    out = ["<h2>Top rings</h2>"]
    if rings is None:
        return out[0] + f"<p class='note'>No {RINGS_FILE} in this run.</p>"
    if rings.empty:
        return out[0] + "<p class='note'>No rings were found in this run.</p>"
    shown_cols = [c for c in ("ring_id", "ring_score", "n_accounts", "n_reviews", "n_orders", "five_star_reviews",
                              "five_star_peak_48h", "burst_share", "mean_member_score", "max_member_score",
                              "first_seen", "last_seen", "span_hours") if c in rings.columns]
    out.append(f"<p class='meta'>{len(rings):,} rings; the top {min(top, len(rings))} by "
               f"{'ring_score' if 'ring_score' in rings.columns else 'size'}. Blue: accounts; red squares: the kinds "
               f"of identifier that link them (one square per kind, with how many were shared).</p>")
    for i, ring in enumerate(rings.head(top).itertuples(index=False)):
        record = ring._asdict()
        accounts = _as_list(record.get("accounts"))
        shared = record.get("shared_identifiers")
        facts = _table(None, [[_e(c), _num(record[c]) if c != "ring_id" else _e(record[c])] for c in shown_cols]
                       + ([["shared identifiers", _e(described)]] if (described := _describe_shared(shared)) else [])
                       + ([["accounts", _e(", ".join(map(str, accounts[:12])) + (" …" if len(accounts) > 12 else ""))]]
                          if accounts else []))
        picture = _img(_ring_picture(accounts, shared), f"ring {record.get('ring_id', i)} graph") if accounts else ""
        out.append(f"<div class='ring'>{picture}<div>{facts}</div></div>")
    return "\n".join(out)


def _describe_shared(shared) -> str:
    kinds = _shared_kinds(shared)
    if kinds:
        return ", ".join(label for label, _ in kinds)
    return _e(shared) and str(shared)


def _reasons(row: dict) -> str:
    parts = []
    for k in range(1, REPORTED_REASONS + 1):
        text = row.get(f"reason_{k}_text")
        code = row.get(f"reason_{k}")
        chosen = text if _e(text) else code
        if _e(chosen):
            parts.append(_e(chosen))
    return "<br>".join(parts)


def _top_section(scores: dict[str, pd.DataFrame], reviews: pd.DataFrame | None, top: int) -> str:
    out = ["<h2>Top flagged reviews and orders</h2>"]
    for entity, frame in scores.items():
        id_column = ENTITY_ID[entity]
        head = top_rows(frame, top)
        texts = {}
        if entity == "review" and reviews is not None and {"review_id", "text"} <= set(reviews.columns):
            wanted = reviews[reviews["review_id"].astype("string").isin(head[id_column].astype("string"))]
            texts = dict(zip(wanted["review_id"].astype(str), wanted["text"]))
        headers = [RANK_COLUMN, id_column, SCORE_COLUMN]
        headers += [c for c in (DECISION_COLUMN, RING_COLUMN) if c in frame.columns]
        headers += ["reasons"] if any(c.startswith("reason_") for c in frame.columns) else []
        headers += ["text"] if texts else []
        rows = []
        for i, row in enumerate(head.to_dict("records"), start=1):
            cells = [f'<td class="num">{_num(row[RANK_COLUMN]) if RANK_COLUMN in row else i}</td>',
                     _e(row[id_column]), f'<td class="num">{_num(float(row[SCORE_COLUMN]))}</td>']
            cells += [_e(row[c]) for c in (DECISION_COLUMN, RING_COLUMN) if c in frame.columns]
            if "reasons" in headers:
                cells.append(_reasons(row))
            if texts:
                text = texts.get(str(row[id_column]))
                text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
                short = text if len(text) <= TEXT_PREVIEW_CHARS else text[:TEXT_PREVIEW_CHARS] + "…"
                cells.append(f'<td class="text">{_e(short)}</td>')
            rows.append(cells)
        out.append(f"<h3>{_e(entity)}s</h3>")
        out.append(_table(headers, rows, f' id="top-{entity}s"'))
    return "\n".join(out)


def _drift_section(scores: dict[str, pd.DataFrame], previous_dir: Path | None) -> str:
    if previous_dir is None:
        return ("<h2>Drift against the previous run</h2><p class='note'>No previous run given "
                "(fraudlens score --previous DIR).</p>")
    out = ["<h2>Drift against the previous run</h2>", f"<p class='meta'>previous run: {_e(previous_dir)}"
           f" ({_e(read_manifest(previous_dir).get('run_id', 'no manifest'))})</p>"]
    rows, figs = [], []
    for drift in score_drift(scores, previous_dir):
        entity, now, then = drift.entity, drift.current, drift.previous
        if then is None:
            rows.append([_e(entity), "", "", "", "", "<span class='note'>no previous scores</span>"])
            continue
        verdict = drift.verdict
        rows.append([_e(entity), _num(len(then)), _num(len(now)),
                     f'<td class="num" id="psi-{entity}">{drift.psi:.4f}</td>',
                     f'<td class="num" id="ks-{entity}">{drift.ks:.4f}</td>',
                     f"<span class='{'warn' if verdict == 'major shift' else ''}'>{_e(verdict)}</span>"])
        if len(now) and len(then):
            figs.append(_img(_histogram_figure(now, f"{entity} scores: this run vs previous", previous=then),
                             f"{entity} score histogram against the previous run"))
    out.append(_table(["entity", "previous rows", "rows", "PSI", "KS", "reading"], rows, ' id="drift"'))
    out.append("<p class='meta'>PSI on the previous run's score deciles: below 0.1 stable, 0.1–0.25 moderate, above "
               "0.25 major. KS: largest gap between the two score CDFs.</p>")
    out.append(f"<div class='figs'>{''.join(figs)}</div>")
    return "\n".join(out)


# ---------------------------------------------------------------- the page


def render_report(out_dir: Path, previous_dir: Path | None = None, labels: pd.DataFrame | None = None,
                  reviews: pd.DataFrame | None = None, top: int = 25, top_rings: int = 10,
                  threshold: float = FLAG_THRESHOLD) -> str:
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    scores = read_run_scores(out_dir)
    quarantine = read_quarantine(out_dir)
    model = manifest.get("model", {})
    run_id = manifest.get("run_id", "")
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = (f"run <b>{_e(run_id) or 'unknown'}</b> · model {_e(model.get('resolved') or model.get('uri') or 'unknown')} · "
            f"code {_e(manifest.get('code_version', 'unknown'))} · generated {_e(generated)} · {_e(out_dir)}")
    sections = [
        _counts_section(manifest, quarantine),
        _distribution_section(scores, threshold),
        _curves_section(scores, labels),
        _rings_section(read_rings(out_dir), top_rings),
        _top_section(scores, reviews, top),
        _drift_section(scores, Path(previous_dir) if previous_dir else None),
    ]
    # CSP: no scripts, no network; images only from inline data: URIs. Escaping is the real defence,
    # this is the second line should a future edit forget it.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{csp}\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>fraudlens report {_e(run_id)}</title><style>{CSS}</style></head><body>"
            f"<h1>fraudlens scoring report</h1><p class='meta'>{meta}</p>\n" + "\n".join(s for s in sections if s)
            + "\n</body></html>\n")


def write_report(out_dir: Path, previous_dir: Path | None = None, labels: pd.DataFrame | None = None,
                 reviews: pd.DataFrame | None = None, top: int = 25, top_rings: int = 10,
                 threshold: float = FLAG_THRESHOLD) -> Path:
    """Writes ``out_dir/report.html`` atomically and returns its path.

    ``labels``: entity_type, entity_id, is_fraud (adds PR/ROC curves); ``reviews``: review_id,
    text (adds text to the top-reviews table); ``previous_dir``: an earlier run's output directory
    (adds PSI/KS drift of the score distributions).
    """
    page = render_report(out_dir, previous_dir, labels, reviews, top, top_rings, threshold)
    return atomic_write_bytes(Path(out_dir) / REPORT_FILE, page.encode("utf-8"))
