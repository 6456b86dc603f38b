"""luigid's web UI in a real headless Chromium, after runs through the scheduler.

Needs Debian's ``chromium`` (``.ci/run`` installs it); without it these tests fail, they do
not skip. Playwright drives that binary; no browser is downloaded.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import Page

from tests.browser_support import browser_fixture, page_fixture  # noqa: F401 - the `browser` and `page` fixtures
from tests.conftest import run_luigi
from tests.scheduler_support import (
    NODE_FAMILIES,
    WRAPPERS,
    Luigid,
    luigid_fixture,  # noqa: F401 - the `luigid` fixture
    make_toy_project,
    toy_env,
    use_scheduler,
)


def visualiser(server: Luigid, fragment: str = "") -> str:
    return f"{server.url}/static/visualiser/index.html{fragment}"


def graph_nodes(page: Page, server: Luigid, task_id: str) -> dict[str, str]:
    """The dependency graph of ``task_id`` as the UI draws it: status by task id."""
    page.goto(visualiser(server, f"#tab=graph&taskId={task_id}"))
    page.wait_for_selector(f'a.graph-node-a[data-task-id="{task_id}"]')
    return {
        a.get_attribute("data-task-id") or "": a.get_attribute("data-task-status") or ""
        for a in page.query_selector_all("a.graph-node-a")
    }


def test_visualiser_shows_nodes_done_and_the_graph_of_full_pipeline(
    luigid: Luigid, project: Path, page: Page, tmp_path: Path
) -> None:
    use_scheduler(project, luigid.url)
    run_id = f"ui-{uuid.uuid4().hex[:8]}"
    done = run_luigi(project, "--module", "luigi_tasks.pipelines", "FullPipeline", "--run-id", run_id)
    assert done.returncode == 0, done.stderr
    tasks = luigid.tasks(run_id)

    # Task list: every node, DONE; the sidebar groups node families by pipeline namespace.
    page.goto(visualiser(luigid))
    page.wait_for_selector("#taskTable tbody tr td:has-text('data_science.EvaluateModel')")
    rows = {
        row.query_selector_all("td")[1].inner_text().strip(): row.query_selector_all("td")[0].inner_text().strip()
        for row in page.query_selector_all("#taskTable tbody tr")
    }
    assert {f: rows.get(f) for f in (*NODE_FAMILIES, *WRAPPERS)} == dict.fromkeys((*NODE_FAMILIES, *WRAPPERS), "DONE")
    folders = [a.inner_text().strip() for a in page.query_selector_all("#familySidebar a.sidebar-folder")]
    assert {"data_engineering", "data_science"} <= set(folders), folders

    # The evaluation node's status message, as the UI shows it, holds the metric.
    evaluate = page.locator("#taskTable tbody tr", has_text="data_science.EvaluateModel")
    evaluate.locator("button.statusMessage").click()
    modal = page.locator("#statusMessageModal")
    modal.locator("pre", has_text="r2=").wait_for()
    assert modal.locator("pre", has_text="r2=").inner_text().startswith("done in ")
    modal.locator("button.close").click()

    # The dependency graph of FullPipeline shows every node and wrapper, all DONE.
    full_id = tasks["FullPipeline"]["task_id"]
    nodes = graph_nodes(page, luigid, full_id)
    expected = {tasks[f]["task_id"] for f in (*NODE_FAMILIES, *WRAPPERS, "RawData")}
    assert set(nodes) == expected
    assert set(nodes.values()) == {"DONE"}
    labels = {t.text_content() for t in page.query_selector_all("#graphPlaceholder svg text")}
    assert set(NODE_FAMILIES) <= labels
    shot = tmp_path / "full_pipeline_graph.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_visualiser_shows_a_failed_node_and_its_error(luigid: Luigid, tmp_path: Path, page: Page) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = f"ui-fail-{uuid.uuid4().hex[:8]}"
    failed = run_luigi(
        project,
        "--module",
        "sched_toy",
        "SchedToyPipeline",
        "--run-id",
        run_id,
        env=toy_env(project, TOY_FAIL="combine"),
    )
    assert failed.returncode == 30, failed.stderr
    tasks = luigid.tasks(run_id)

    nodes = graph_nodes(page, luigid, tasks["SchedToyPipeline"]["task_id"])
    assert nodes[tasks["sched_toy.Combine"]["task_id"]] == "FAILED"
    assert nodes[tasks["sched_toy.MakeA"]["task_id"]] == "DONE"

    # Clicking the failed node opens its traceback.
    page.click(f'a.graph-node-a[data-task-id="{tasks["sched_toy.Combine"]["task_id"]}"]')
    trace = page.locator("#errorModal pre").first
    trace.wait_for()
    assert "RuntimeError: toy node combine failed on purpose" in trace.inner_text()
    assert "rerun with: luigi --module sched_toy SchedToyPipeline --run-id" in trace.inner_text()
    page.screenshot(path=str(tmp_path / "failed_node_error.png"), full_page=True)
