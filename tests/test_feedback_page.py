"""Feedback pages: inert learner outputs and markdown, offline formulas, an index and cells that say what failed,
a language and a script-free policy; visible tests' messages."""
import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import course
import feedback_filter
from firstneuron.testing import NotAttempted, VisibleTestFailure, assert_close, visible_tests
from sanitize import SanitizeLearnerContent

HOSTILE = {
    "text/html": "<script>window.pwned = 1</script><b onmouseover='x()'>hi</b>",
    "application/javascript": "window.pwned = 1",
    "image/svg+xml": "<svg onload='window.pwned = 1'></svg>",
    "text/markdown": "<img src=x onerror='window.pwned = 1'>",
}


def learner_notebook(data):
    cell = new_code_cell("display(...)", outputs=[new_output("display_data", data=dict(data))])
    return new_notebook(cells=[cell])


@pytest.mark.parametrize("mimetype", sorted(HOSTILE))
def test_active_outputs_of_learner_cells_are_made_inert(mimetype):
    nb, _ = feedback_filter.InertOutputs().preprocess(learner_notebook({mimetype: HOSTILE[mimetype]}), {})
    data = nb.cells[0].outputs[0].data
    assert set(data) == {"text/plain"}, f"expected only text/plain left of a {mimetype} output, found {sorted(data)}"


def test_html_outputs_are_shown_escaped_in_the_page():
    nb = learner_notebook({"text/html": HOSTILE["text/html"], "application/javascript": "window.pwned = 1"})
    nb.metadata["kernelspec"] = dict(course.KERNELSPEC)
    nb, _ = feedback_filter.InertOutputs().preprocess(nb, {})
    page, _ = feedback_filter.LearnerFeedbackExporter(template_name="classic").from_notebook_node(nb)
    soup = BeautifulSoup(page, "html.parser")
    scripts = [s for s in soup.find_all("script") if "pwned" in (s.string or "")]
    assert not scripts, f"expected no learner script in the page, found {scripts}"
    assert not soup.find("b", attrs={"onmouseover": True}), "expected the learner's <b onmouseover> escaped"
    assert "&lt;script&gt;window.pwned" in page, "expected the learner's HTML shown as escaped text"


def test_plain_outputs_and_images_are_kept():
    data = {"text/plain": "<Figure>", "image/png": "iVBORw0KGgo="}
    nb, _ = feedback_filter.InertOutputs().preprocess(learner_notebook(data), {})
    assert nb.cells[0].outputs[0].data == data, "expected text and PNG outputs unchanged"


def test_the_page_is_parsed_once_and_keeps_nbconverts_alt_text_and_focus():
    """nbconvert's HTMLExporter parses its page to add image alt text and focusable cells; the feedback
    exporter skips that parse (offline_page does the same work), and so must give those attributes."""
    from nbconvert.exporters import HTMLExporter

    cell = new_code_cell("plt.show()", outputs=[new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                                                "text/plain": "<Figure>"})])
    nb = new_notebook(cells=[cell], metadata={"kernelspec": dict(course.KERNELSPEC)})
    ours = BeautifulSoup(feedback_filter.LearnerFeedbackExporter(template_name="lab").from_notebook_node(nb)[0],
                         "html.parser")
    theirs = BeautifulSoup(HTMLExporter(template_name="lab").from_notebook_node(nb)[0], "html.parser")
    for selector in ("img", ".jp-Notebook div.jp-Cell-inputWrapper", ".jp-Notebook div.jp-OutputArea-output"):
        expected = [(e.get("alt"), e.get("tabindex")) for e in theirs.select(selector)]
        found = [(e.get("alt"), e.get("tabindex")) for e in ours.select(selector)]
        assert expected and found == expected, f"expected {selector} with alt/tabindex {expected} as nbconvert gives, found {found}"
    assert ours.select_one("img")["alt"] == feedback_filter.NO_ALT, "expected nbconvert's alt text on the figure"


def test_formulas_become_mathml_and_code_keeps_its_dollars():
    nb = new_notebook(cells=[new_markdown_cell("Inline $\\sigma(z) = \\frac{1}{1 + e^{-z}}$, `x = \"$5\"`,\n\n"
                                               "$$J = -\\frac{1}{m}\\sum_i \\text{num\\_px}$$")],
                      metadata={"kernelspec": dict(course.KERNELSPEC)})
    page, _ = feedback_filter.LearnerFeedbackExporter(template_name="classic").from_notebook_node(nb)
    soup = BeautifulSoup(page, "html.parser")
    rendered = soup.select_one("div.text_cell_render")
    maths = rendered.find_all("math")
    assert [m.get("display") for m in maths] == ["inline", "block"], f"expected an inline and a block formula, found {maths}"
    prose = "".join(t for t in rendered.find_all(string=True) if not t.find_parent(["math", "code"]))
    assert "$" not in prose, f"expected no raw $ outside code, found {prose!r}"
    assert rendered.find("code").get_text() == 'x = "$5"', "expected the $ inside code left alone"
    assert "num_px" in maths[1].get_text(), f"expected \\text{{num\\_px}} shown as num_px, found {maths[1].get_text()!r}"
    assert not [s for s in soup.find_all("script") if "mathjax" in (s.get("src") or "").lower()], (
        "expected no MathJax script loaded from a CDN")


def test_the_index_names_each_exercise():
    cell = new_code_cell("'''sigmoid gives 1/2 at 0.'''\nassert True")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2,
                                 "grade_id": "sigmoid_tests", "schema_version": 3}
    assert feedback_filter.exercise_titles(new_notebook(cells=[cell])) == {
        "sigmoid_tests": "sigmoid: sigmoid gives 1/2 at 0."}
    page = '<div id="toc"><ol><li><a href="#sigmoid_tests">Test cell</a> (Score: 0 / 2)</li></ol></div>'
    toc = BeautifulSoup(feedback_filter.offline_page(page, {"sigmoid_tests": "sigmoid: it works"}), "html.parser")
    assert toc.select_one("#toc a").get_text() == "sigmoid: it works", f"expected the exercise named, found {toc}"


def test_an_ungraded_cell_after_an_unattempted_exercise_is_not_called_not_attempted():
    release = nbformat.read(str(course.notebook_path(course.RELEASE, "01-sigmoid")), as_version=4)
    for index, cell in enumerate(release.cells):
        if cell.cell_type == "code":
            cell.outputs = [new_output("error", ename="NotImplementedError", evalue="", traceback=[])]
    lines = feedback_filter.learner_errors(release)
    graded = {i for i, c in enumerate(release.cells) if c.metadata.get("nbgrader", {}).get("grade")}
    first_exercise = min(i for i, c in enumerate(release.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    ungraded = {i for i in lines if i not in graded and i > first_exercise
                and not release.cells[i].metadata.get("nbgrader", {}).get("solution")}
    assert ungraded, "expected ungraded cells after the first exercise in stage 1"
    for i in graded:
        assert lines[i] == feedback_filter.NOT_ATTEMPTED, f"expected test cell {i} 'not attempted', found {lines[i]!r}"
    for i in ungraded:
        assert lines[i] == feedback_filter.NEEDS_AN_EXERCISE, f"expected cell {i} to say it needs an exercise, found {lines[i]!r}"


def test_visible_tests_print_a_pass_line(capsys):
    with visible_tests("sigmoid"):
        assert_close("sigmoid(0)", 0.5, 0.5)
    assert capsys.readouterr().out == "✓ sigmoid: the visible tests passed.\n"


def test_a_failed_visible_test_shows_its_message_only():
    with pytest.raises(VisibleTestFailure) as failure:
        with visible_tests("sigmoid"):
            assert_close("sigmoid(800)", float("nan"), 1.0)
    shown = failure.value._render_traceback_()
    assert len(shown) == 1 and "sigmoid(800): expected 1.0" in shown[0], f"expected one line with the message, found {shown}"


def test_a_test_run_before_the_exercise_says_not_attempted():
    def sigmoid(z):
        raise NotImplementedError()

    with pytest.raises(NotAttempted, match="sigmoid: not attempted yet"):
        with visible_tests("sigmoid"):
            sigmoid(0.0)
    with pytest.raises(NotAttempted, match="m_train: not attempted yet"):
        with visible_tests("m_train"):
            print(m_train)  # noqa: F821 - the exercise's cell was never run


def test_an_error_inside_the_learners_function_keeps_its_traceback():
    def sigmoid(z):
        return undefined_name  # noqa: F821 - a learner's typo

    with pytest.raises(NameError):
        with visible_tests("sigmoid"):
            sigmoid(0.0)


GRADED_PAGE = """<!DOCTYPE html><html><head><title>t</title></head><body>
<div id="toc"><ol><li><a href="#sigmoid_tests">Test cell</a> (Score: 0.0 / 2.0)</li>
<li><a href="#shape_tests">Test cell</a> (Score: 1.0 / 1.0)</li></ol></div>
<div class="cell code_cell"><div class="input"><div class="panel panel-primary nbgrader_cell"><a name="sigmoid_tests"></a>
<div class="panel-heading"><span class="nbgrader-label">Grade cell: <code>sigmoid_tests</code></span>
<span class="pull-right">Score: 0.0 / 2.0</span></div></div></div>
<div class="output_wrapper"><div class="output_subarea output_text output_error"><pre>
sigmoid(0): expected 0.5, found 1.0</pre></div></div></div>
<div class="cell code_cell"><div class="input"><div class="panel panel-primary nbgrader_cell"><a name="shape_tests"></a>
<div class="panel-heading"><span class="nbgrader-label">Grade cell: <code>shape_tests</code></span>
<span class="pull-right">Score: 1.0 / 1.0</span></div></div></div></div>
</body></html>"""


def test_a_failed_test_cell_and_its_index_entry_say_failed():
    titles = {"sigmoid_tests": "sigmoid: it works", "shape_tests": "shape: it fits"}
    messages = {"sigmoid_tests": "sigmoid(0): expected 0.5, found 1.0"}
    soup = BeautifulSoup(feedback_filter.offline_page(GRADED_PAGE, titles, messages), "html.parser")
    entries = [" ".join(li.get_text(" ").split()) for li in soup.select("#toc li")]
    assert entries == ["sigmoid: it works 0 / 2 points Failed: sigmoid(0): expected 0.5, found 1.0",
                       "shape: it fits 1 / 1 points Passed"], f"expected points and verdicts in the index, found {entries}"
    failed = soup.select("div.nbgrader_cell.failed-cell")
    assert len(failed) == 1 and "Failed: 0 of 2 points" in failed[0].get_text(), (
        f"expected the sigmoid cell marked 'Failed: 0 of 2 points', found {failed}")
    assert soup.select_one("div.failed-output pre").get_text().startswith("Failed: sigmoid(0)"), (
        "expected the error output to start with 'Failed:'")
    assert "Passed: 1 of 1 points" in soup.select("div.nbgrader_cell")[1].get_text(), "expected the passed cell to say so"


def test_the_page_has_a_language_and_a_policy_without_scripts():
    soup = BeautifulSoup(feedback_filter.offline_page(GRADED_PAGE, {}), "html.parser")
    assert soup.html.get("lang") == "en", "expected <html lang='en'>"
    first = soup.head.find(True)
    assert first.name == "meta" and first.get("http-equiv") == "Content-Security-Policy", (
        f"expected the Content-Security-Policy first in <head>, found {first}")
    assert "script-src 'none'" in first["content"], f"expected scripts forbidden, found {first['content']!r}"
    assert 'math[display="block"] { display: block; }' not in str(soup), "expected the browser's block math kept"


def test_display_formulas_scroll_in_a_box_a_keyboard_reaches():
    markup = feedback_filter.math_to_mathml("$$J = \\frac{1}{m}$$ and $a$")
    box = BeautifulSoup(markup, "html.parser").find("span", class_="display-math")
    assert box is not None and box.get("tabindex") == "0" and box.get("aria-label"), (
        f"expected the block formula in a focusable, labelled box, found {markup[:120]!r}")
    assert box.find("math")["display"] == "block", "expected the block formula inside the box"


def test_learner_markdown_is_sanitized_in_the_feedback():
    assert feedback_filter.LEARNER_FEEDBACK_PREPROCESSORS[0] is SanitizeLearnerContent, (
        "expected the sanitizer first among the feedback's preprocessors")
    nb = new_notebook(cells=[new_markdown_cell("<img src=x onerror='window.pwned = 1'> notes")],
                      metadata={"kernelspec": dict(course.KERNELSPEC)})
    nb, _ = SanitizeLearnerContent().preprocess(nb, {})
    page, _ = feedback_filter.LearnerFeedbackExporter(template_name="classic").from_notebook_node(nb)
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.find("img", attrs={"onerror": True}), "expected no <img onerror> in the page"
    assert "<img src=x onerror" in soup.select_one("div.text_cell_render").get_text(), "expected it shown as text"


@pytest.mark.parametrize("tex, shown", [
    ('\\text{<img/src="x"onerror="window.pwned=1">}', '<img/src="x"onerror="window.pwned=1">'),
    ("\\text{<script>window.pwned = 1</script>}", "<script>window.pwned = 1</script>"),
    ("\\style{position: fixed; top: 0}{6 / 6}", "6/6"),
])
def test_a_formula_adds_only_mathml_to_the_page(tex, shown):
    """latex2mathml copies ``\\text{...}`` as it is; what it copies is shown as text, never an element."""
    markup = feedback_filter.math_to_mathml(f"see ${tex}$")
    soup = BeautifulSoup(markup, "html.parser")
    others = [t.name for t in soup.find_all(True) if t.name not in feedback_filter.MATHML_ELEMENTS]
    styled = [t.name for t in soup.find_all(True) if t.has_attr("style")]
    assert others == [] and styled == [], f"expected MathML elements only, unstyled, found {others} {styled} in {markup!r}"
    assert shown in " ".join(soup.get_text().split()).replace("\u00a0", " ").replace(" / ", "/"), \
        f"expected the formula's text {shown!r} shown, found {soup.get_text()!r}"
