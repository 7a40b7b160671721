"""The CI workflow for forks is valid YAML and runs the README's test command."""
import re

import yaml

import course

WORKFLOWS = sorted((course.REPO / ".github" / "workflows").glob("*.yml"))


def test_there_is_a_workflow():
    assert WORKFLOWS, "expected a workflow in .github/workflows/, found none"


def test_workflows_run_the_readme_test_command():
    readme = (course.REPO / "README.md").read_text()
    command = re.search(r"^(make test)\b", readme, re.M)
    assert command, "expected the README to show `make test` at the start of a line"
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        assert isinstance(workflow, dict) and "jobs" in workflow, f"expected jobs in {path}, found {workflow!r}"
        assert workflow.get(True) or workflow.get("on"), f"expected triggers (on:) in {path}"
        runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job.get("steps", [])]
        assert any(re.search(r"(^|\s)make test($|\s)", run) for run in runs), \
            f"expected a step running `{command.group(1)}` in {path}, found {runs}"
