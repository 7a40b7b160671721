"""A class report after grading: one HTML page with its PNG figures.

Built from nbgrader's gradebook (scores per stage and per exercise) and from
the autograded notebooks (the one-line diagnosis each failing test showed),
with matplotlib: the score distribution per stage, the most frequent
diagnosed mistakes per exercise, and the students who could not be graded or
scored below a threshold.
"""
import html
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import course
from feedback_filter import failure_messages  # noqa: E402

#: A student below this share of a stage's points is listed for attention.
LOW_SCORE = 0.5


def collect(workspace):
    """Scores, diagnoses and grading failures of every submission in `workspace`.

    Returns
    -------
    scores : dict stage -> dict student -> (score, max_score)
    mistakes : dict (stage, test cell) -> Counter of diagnosis lines
    ungraded : list of (student, stage, reason)
    """
    from nbgrader.api import MissingEntry

    workspace = Path(workspace)
    scores, mistakes, ungraded = defaultdict(dict), defaultdict(Counter), []
    submitted = sorted((p.parent.name, p.name) for p in (workspace / "submitted").glob("*/*") if p.is_dir())
    with course.open_gradebook(workspace) as gb:  # the course's db_url: its gradebook.db or a database server
        for student, stage in submitted:
            try:
                submission = gb.find_submission(stage, student)
            except MissingEntry:
                ungraded.append((student, stage, "never autograded"))
                continue
            autograded = course.notebook_path(workspace / "autograded" / student, stage)
            if not autograded.is_file():
                ungraded.append((student, stage, "autograding failed: see logs/" + student))
                continue
            scores[stage][student] = (submission.score, submission.max_score)
            diagnoses = course.diagnoses(autograded)
            for cell, line in failure_messages(autograded).items():
                diagnosis = diagnoses.get(cell)  # data from the check that named it; else what was observed
                key = diagnosis["hint"] if diagnosis and diagnosis.get("hint") else line.split(" (case seed")[0]
                mistakes[(stage, cell)][key] += 1
    return scores, mistakes, ungraded


def score_figure(scores, path):
    """Histograms of the scores, one small panel per stage."""
    stages = sorted(scores)
    fig, axes = plt.subplots(1, max(len(stages), 1), figsize=(2.2 * max(len(stages), 1), 2.2), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        values = [s for s, _ in scores[stage].values()]
        maximum = max(m for _, m in scores[stage].values())
        ax.hist(values, bins=range(int(maximum) + 2), align="left", rwidth=0.8, color="#4c72b0")
        ax.set_title(stage, fontsize=9)
        ax.set_xlabel(f"score (of {maximum:g})", fontsize=8)
        ax.set_xlim(-0.6, maximum + 0.6)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("students", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def mistakes_figure(mistakes, path, top=12):
    """Horizontal bars: the most frequent diagnoses across all exercises (not counting unattempted ones)."""
    from feedback_filter import NOT_ATTEMPTED

    counts = Counter()
    for (stage, cell), counter in mistakes.items():
        for line, n in counter.items():
            if line != NOT_ATTEMPTED:
                counts[f"{stage} {cell}: {line[:60]}"] += n
    items = counts.most_common(top)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(items), 1) + 0.8))
    if not items:
        ax.text(0.5, 0.5, "no mistakes diagnosed", ha="center", va="center", transform=ax.transAxes)
    ax.barh([label for label, _ in items], [n for _, n in items], color="#c44e52")
    ax.set_xlabel("students", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(workspace, folder=None, low_score=LOW_SCORE):
    """Write ``report/index.html`` and its figures for the class graded in `workspace`; returns the page."""
    workspace = Path(workspace)
    folder = Path(folder) if folder else workspace / "report"
    folder.mkdir(parents=True, exist_ok=True)
    scores, mistakes, ungraded = collect(workspace)
    score_figure(scores, folder / "scores.png")
    mistakes_figure(mistakes, folder / "mistakes.png")
    esc = html.escape
    rows = []
    for (stage, cell), counter in sorted(mistakes.items()):
        for line, n in counter.most_common():
            rows.append(f"<tr><td>{esc(stage)}</td><td>{esc(cell)}</td><td>{n}</td><td>{esc(line)}</td></tr>")
    attention = [f"<tr><td>{esc(s)}</td><td>{esc(t)}</td><td>not graded</td><td>{esc(r)}</td></tr>"
                 for s, t, r in ungraded]
    for stage in sorted(scores):
        for student, (score, maximum) in sorted(scores[stage].items()):
            if maximum and score < low_score * maximum:
                attention.append(f"<tr><td>{esc(student)}</td><td>{esc(stage)}</td><td>{score:g}/{maximum:g}</td>"
                                 f"<td>below {low_score:.0%} of the points</td></tr>")
    summary = "".join(
        f"<tr><td>{esc(stage)}</td><td>{len(scores[stage])}</td>"
        f"<td>{sum(s for s, _ in scores[stage].values()) / max(len(scores[stage]), 1):.1f}"
        f" / {max(m for _, m in scores[stage].values()):g}</td>"
        f"<td>{sum(s >= m for s, m in scores[stage].values())}</td></tr>" for stage in sorted(scores))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>First Neuron: class report</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>First Neuron: class report</h1>
<p>Graded with nbgrader in <code>{esc(str(workspace))}</code>.</p>
<h2>Scores</h2>
<table><tr><th>stage</th><th>graded</th><th>mean score</th><th>full marks</th></tr>{summary}</table>
<img src="scores.png" alt="score distribution per stage">
<h2>Most frequent mistakes</h2>
<p>What the hidden tests diagnosed, per exercise, with the number of students.</p>
<img src="mistakes.png" alt="most frequent diagnosed mistakes">
<table><tr><th>stage</th><th>exercise</th><th>students</th><th>diagnosis</th></tr>{''.join(rows)}</table>
<h2>Students needing attention</h2>
<table><tr><th>student</th><th>stage</th><th>score</th><th>why</th></tr>{''.join(attention) or '<tr><td colspan="4">none</td></tr>'}</table>
</body></html>
"""
    out = folder / "index.html"
    out.write_text(page)
    return out
