"""``luigi-tasks runs list|show|delete`` and ``luigi-tasks invalidate``: runs without the scheduler.

Example:
    $ luigi-tasks runs show exp2
    $ luigi-tasks invalidate --run-id exp2 --from train_model
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import luigi.configuration

from luigi_tasks import leases, node_records, run_info, run_outputs, run_params, run_plan, runs
from luigi_tasks.cli_support import DEFAULT_MODULE, MODULE_HELP, guard, load_project, number_cell, table
from luigi_tasks.errors import RunError
from luigi_tasks.fingerprint import Fingerprint, node_fingerprint
from luigi_tasks.graph import current_graph
from luigi_tasks.node import NodeTask
from luigi_tasks.node_records import COMPLETE
from luigi_tasks.pipeline import node_classes, pipeline_classes, pipeline_nodes
from luigi_tasks.processes import exited_here
from luigi_tasks.project import Project, dotted
from luigi_tasks.report import luigi_command

_LONGEST_NOTE = 60
#: How :func:`explain` starts the reason of a completed node it could not judge.
NOT_CHECKED = "not checked for changes"


def add_cli(commands: Any) -> Any:
    """Add the ``runs`` and ``invalidate`` commands to the ``luigi-tasks`` parser; return the
    ``runs`` sub-commands, for more."""
    runs_parser = commands.add_parser("runs", help="list runs, explain one node by node, or compare two")
    runs_sub = runs_parser.add_subparsers(title="runs commands", metavar="ACTION", required=True)
    list_parser = runs_sub.add_parser(
        "list", help="every run, oldest first: complete, failed, unfinished or not started"
    )
    list_parser.add_argument("--module", help=MODULE_HELP)
    list_parser.add_argument(
        "--metric", action="append", default=[], metavar="NUMBER",
        help="add a column: a number the runs saved in a JSON output (dataset.key, e.g. metrics.r2); repeatable",
    )
    list_parser.add_argument(
        "--param", action="append", default=[], metavar="KEY",
        help="add a column: a parameter of each run, as its run.json recorded it (e.g. model.init_args.alpha); "
        "repeatable",
    )
    list_parser.add_argument(
        "--sort", metavar="NUMBER", help="best run first by this number, highest first (its column is added)"
    )
    list_parser.add_argument("--ascending", action="store_true", help="with --sort: lowest first (an error, a loss)")
    list_parser.add_argument(
        "--json", action="store_true",
        help="print a JSON list instead (run_id, created, reuse_from, state, and the numbers and parameters asked "
        "for), for scripts",
    )
    list_parser.set_defaults(func=guard(cmd_list))
    show = runs_sub.add_parser("show", help="each node of a run: ran / reused / failed / not run, and why")
    show.add_argument("run_id", help="a run id, or latest (the newest run)")
    show.add_argument("--module", help=MODULE_HELP)
    show.set_defaults(func=guard(cmd_show))

    delete = runs_sub.add_parser("delete", help="delete a run: its versions of every dataset and its record")
    delete.add_argument("run_id", help="a run id (not latest: name the run you mean)")
    delete.add_argument("--yes", action="store_true", help="delete; without it, only list what would be deleted")
    delete.add_argument("--module", help=MODULE_HELP)
    delete.set_defaults(func=guard(cmd_delete))

    inv = commands.add_parser("invalidate", help="make a node and its downstream run again in a run")
    inv.add_argument("--run-id", required=True, help="a run id, or latest (the newest run)")
    inv.add_argument("--from", dest="start", required=True, metavar="NODE",
                     help="node name (train_model), class (TrainModel) or task family (data_science.TrainModel)")
    inv.add_argument("--module", help=MODULE_HELP)
    inv.set_defaults(func=guard(cmd_invalidate))
    return runs_sub


def find_node(name: str) -> type[NodeTask]:
    """A node by task family, class name or node name."""
    nodes = list(current_graph().upstream)
    for task in nodes:
        if name in (task.get_task_family(), task.__name__, task.node.name):
            return task
    known = ", ".join(sorted(t.node.name for t in nodes))
    raise RunError(f"No node called '{name}'. Nodes: {known}.")


def run_nodes(
    info: dict[str, Any], nodes: list[type[NodeTask]], records: dict[str, node_records.NodeRecord]
) -> list[type[NodeTask]]:
    """Those of ``nodes`` that run ``info`` could make: that have a record in it (``records``)
    or an output in the catalog it was created with (a node added since is not counted
    against an older run; one whose output was renamed since is)."""
    recorded = info.get("catalog")
    if not recorded:  # a run made before the catalog was recorded
        return nodes
    return [
        task for task in nodes
        if task.get_task_family() in records or any(name in recorded for name in task.node.outputs)
    ]


def run_state(
    records: dict[str, node_records.NodeRecord], families: list[str], gone: Sequence[str] = (),
    elsewhere: Sequence[str] = (),
) -> str:
    """A run at a glance, from its node records: ``complete``, ``failed: <nodes>``,
    ``interrupted: <nodes>`` (recorded running by a worker of this host that has exited),
    ``outputs gone: <nodes>`` (completed, their outputs deleted or rewritten since: ``gone``),
    ``stored elsewhere now: <datasets>`` (the catalog moved those outputs since: ``elsewhere``),
    ``unfinished: k of n nodes done`` (stopped, still running, or only part of it asked for),
    or ``not started`` (no node record: refused, or stopped before its first node ended)."""
    if not records:
        return "not started (no node record)"
    failed = _with_status(records, "failed")
    if failed:
        return "failed: " + ", ".join(failed)
    interrupted = _interrupted(records)
    if interrupted:
        return "interrupted: " + ", ".join(interrupted) + " (its worker on this host exited while it ran)"
    if gone:
        return "outputs gone: " + ", ".join(gone)
    if elsewhere:
        return "stored elsewhere now: " + ", ".join(elsewhere) + " (the catalog moved them since the run)"
    done = sum(1 for family in families if family in records and records[family].status in COMPLETE)
    return "complete" if done == len(families) else f"unfinished: {done} of {len(families)} nodes done"


def _with_status(records: dict[str, node_records.NodeRecord], status: str) -> list[str]:
    return sorted(family for family, record in records.items() if record.status == status)


def _interrupted(records: dict[str, node_records.NodeRecord]) -> list[str]:
    """Nodes recorded running whose worker on this host has exited (killed, out of memory)."""
    return sorted(f for f, r in records.items() if r.status == "running" and exited_here(r.host, r.pid))


def cmd_list(args: argparse.Namespace) -> int:
    """Every run, oldest first (or by ``--sort``), with its state against the pipelines of
    ``--module``, the numbers asked for with ``--metric`` and the parameters with ``--param``."""
    project = load_project(args.module)
    infos = run_info.list_runs(project)
    if not infos:
        print("[]" if args.json else f"No runs yet in {project.runs_dir}.")
        return 0
    if args.ascending and not args.sort:
        raise RunError("--ascending orders by the number given with --sort: add --sort <dataset.key>.")
    keys = list(dict.fromkeys([*args.metric, *([args.sort] if args.sort else [])]))
    nodes = pipeline_nodes()
    unread: list[str] = []
    stored = run_info.storage(project) if keys else {}
    listed = []
    stopped: dict[str, dict[str, list[str]]] = {}
    for info in infos:
        run_id = info["run_id"]
        records = node_records.read_node_records(project, run_id)
        made = run_nodes(info, nodes, records)
        moved = run_info.moved_datasets(project, info)
        lost = {
            task.get_task_family(): _lost_outputs(project, run_id, task, rec, moved) for task in made
            if (rec := records.get(task.get_task_family())) and rec.status in COMPLETE
        }
        state = run_state(
            records, [task.get_task_family() for task in made],
            gone=[family for family, (gone, _) in lost.items() if gone],
            elsewhere=sorted({name for _, names in lost.values() for name in names}),
        )
        if state != "complete" and (pids := leases.live_writers(project, run_id)):
            state += f"; being run now (pid {', '.join(map(str, pids))} on this host)"
        numbers = run_outputs.run_numbers(project, info, records, unread, stored) if keys else {}
        listed.append((info, state, numbers))
        stopped[run_id] = {"failed": _with_status(records, "failed"), "interrupted": _interrupted(records)}
    if keys:
        _check_known(keys, [numbers for *_, numbers in listed], unread)
    params = {info["run_id"]: {key: dotted(info.get("parameters") or {}, key) for key in args.param} for info in infos}
    _check_parameters(args.param, infos, params)
    if args.sort:
        with_it = [row for row in listed if _sortable(row[2].get(args.sort))]
        with_it.sort(key=lambda row: row[2][args.sort], reverse=not args.ascending)  # stable: ties oldest first
        listed = with_it + [row for row in listed if not _sortable(row[2].get(args.sort))]
    if args.json:
        print(json.dumps([
            {"run_id": info["run_id"], "created": info.get("created"), "reuse_from": info.get("reuse_from"),
             "state": state, "complete": state == "complete", **stopped[info["run_id"]],
             **({"numbers": {key: _json_number(numbers.get(key)) for key in keys}} if keys else {}),
             **({"parameters": {k: v for k, (_, v) in params[info["run_id"]].items()}} if args.param else {})}
            for info, state, numbers in listed
        ], indent=2))
        return 0
    rows = [("run id", "created", "reuse from", *args.param, *keys, "state")]
    rows += [
        (info["run_id"], info.get("created", "-"), info.get("reuse_from") or "-",
         *(_parameter_cell(*params[info["run_id"]][key]) for key in args.param),
         *(number_cell(numbers.get(key)) for key in keys), state)
        for info, state, numbers in listed
    ]
    print("\n".join(table(rows)))
    if unread:
        print("\nNumbers not shown:\n" + "\n".join(f"  {line}" for line in unread))
    return 0


def _check_known(keys: list[str], numbers: list[dict[str, run_outputs.Number]], unread: list[str]) -> None:
    """Refuse a ``--metric``/``--sort`` number no run saved (a typo), listing those there are,
    and the outputs that could not be read (moved in the catalog, deleted): it may be there."""
    known = dict.fromkeys(key for found in numbers for key in found)
    missing = [key for key in keys if key not in known]
    if missing:
        there = ", ".join(known) or "none (no run saved a versioned JSON output holding numbers)"
        names = ", ".join(map(repr, missing))
        gone = "".join(f"\n  {line}" for line in unread)
        raise RunError(
            f"No run saved a number called {names} that could be read. Numbers the runs saved: {there}."
            + (f" Outputs that could not be read:{gone}" if gone else "")
        )


def _parameter_cell(found: bool, value: Any) -> str:
    if not found:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)


def _check_parameters(
    keys: list[str], infos: list[dict[str, Any]], params: dict[str, dict[str, tuple[bool, Any]]]
) -> None:
    """Refuse a ``--param`` no run has (a typo), with the nearest ones the runs have."""
    missing = [key for key in keys if not any(params[info["run_id"]][key][0] for info in infos)]
    if missing:
        known = sorted({k for info in infos for k in run_info.flatten(info.get("parameters") or {})})
        close = difflib.get_close_matches(missing[0], known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else f" Parameters of the runs: {', '.join(known[:20])}."
        raise RunError(f"No run has a parameter {missing[0]!r} (config/parameters.yml keys, dotted).{hint}")


def _json_number(value: run_outputs.Number | None) -> run_outputs.Number | None:
    return None if value is None or not math.isfinite(value) else value  # NaN and infinities are not JSON


def _sortable(value: run_outputs.Number | None) -> bool:
    return value is not None and not math.isnan(value)


def _recorded_status(rec: node_records.NodeRecord) -> str:
    """A record's status as ``runs show`` says it."""
    return {"done": "ran", "reused": f"reused from {rec.reused_from}"}.get(rec.status, rec.status)


def explain(project: Project, run_id: str, *, staleness: bool = True) -> list[tuple[str, str, str, str]]:
    """Each node of the project in run ``run_id``: (node, status, reason, duration).

    With ``staleness``, a completed node whose code, parameters or inputs changed since is
    ``stale``; without, each node is as its record says.
    """
    info = runs.require_run(project, run_id)
    run_params.shown_parameters(project, run_id, info)
    records = node_records.read_node_records(project, run_id)
    order = run_nodes(info, pipeline_nodes(), records)
    moved = run_info.moved_datasets(project, info)
    rows: list[tuple[str, str, str, str]] = []
    for task in order:
        family = task.get_task_family()
        rec = records.get(family)
        if rec is None:
            rows.append((family, "not run", "", "-"))
            continue
        status = _recorded_status(rec)
        reason = (rec.error if rec.status == "failed" else rec.reason) or ""
        if rec.status == "running" and exited_here(rec.host, rec.pid):
            status, reason = "interrupted", f"its worker (pid {rec.pid} on this host) exited while it ran"
        gone, elsewhere = (
            _lost_outputs(project, run_id, task, rec, moved) if staleness and rec.status in COMPLETE else ("", [])
        )
        if gone:
            status, reason = "outputs gone", f"{gone}; running the run again makes them again"
        elif elsewhere:
            status, reason = "stored elsewhere", "; ".join(
                f"{name}: the catalog stores it elsewhere now (was {moved[name][0]}, now {moved[name][1]}); "
                "restore the entry to use this run's" for name in elsewhere
            )
        elif staleness and rec.status in COMPLETE and not rec.fingerprint:
            reason = f"{NOT_CHECKED}: no fingerprint was recorded (a raw input upstream was missing)"
        elif staleness and rec.status in COMPLETE:
            assert rec.fingerprint is not None  # the branch above took the records without one
            current = node_fingerprint(task, run_id)
            if current.missing:
                reason = f"{NOT_CHECKED}: raw input {', '.join(current.missing)} is missing"
            elif why := current.explain_change(Fingerprint.from_dict(rec.fingerprint), task.node.func_name):
                status, reason = "stale", why
        timed = rec.duration_s is not None and rec.status not in ("reused", "invalidated")  # not run in this run now
        duration = f"{rec.duration_s:.2f} s" if timed else "-"
        rows.append((family, status, reason, duration))
    shown = {row[0] for row in rows} | {rec.renamed_from for rec in records.values() if rec.renamed_from}
    rows += [  # a node removed (or renamed) since the run: its record still says what it did
        (family, _recorded_status(rec), "not in the pipelines now", "-")
        for family, rec in records.items() if family not in shown
    ]
    return rows


def _lost_outputs(
    project: Project, run_id: str, task: type[NodeTask], rec: node_records.NodeRecord,
    moved: dict[str, tuple[str, str]],
) -> tuple[str, list[str]]:
    """Of a completed node's outputs: what is gone (deleted, or an unversioned file rewritten
    since), said in words (empty if nothing), and those the catalog stores elsewhere now (not
    looked for there: where the run saved them may still hold them)."""
    elsewhere = [name for name in task.node.outputs if name in moved]
    deleted = [n for n in run_plan.missing_outputs(project, run_id, task, rec) if n not in moved]
    rewritten = [n for n in run_plan.rewritten_outputs(project, rec) if n not in deleted and n not in moved]
    words = [f"{', '.join(deleted)} deleted since"] if deleted else []
    words += [f"{', '.join(rewritten)} rewritten since by another run (not versioned)"] if rewritten else []
    return "; ".join(words), elsewhere


def state_note(status: str, reason: str, duration: str) -> tuple[str, str]:
    """An :func:`explain` row's state (``reused from R`` is ``reused``) and a short note
    saying it: ``ran in 0.04 s``, ``reused from R``, ``failed: <why>``, ``stale: <why>``,
    ``running``, ``interrupted: <why>``, ``not run``."""
    if status.startswith("reused from "):
        return "reused", status
    if status == "ran":
        return status, f"ran in {duration}" + (f" ({NOT_CHECKED})" if reason.startswith(NOT_CHECKED) else "")
    shown = ("failed", "stale", "interrupted", "outputs gone", "stored elsewhere")
    note = f"{status}: {reason}" if reason and status in shown else status  # others: why it ran
    if len(note) > _LONGEST_NOTE:
        note = note[: _LONGEST_NOTE - 3] + "..."
    return status, note


def cmd_show(args: argparse.Namespace) -> int:
    project = load_project(args.module)
    run_id = runs.named_run(project, args.run_id)
    info = run_info.read_run_info(project, run_id) or {}
    unfit = run_params.shown_parameters(project, run_id, info)
    rows = explain(project, run_id)
    params = run_params.recorded(info)
    print(
        f"run {run_id}  created {info.get('created')}  code {info.get('code_version') or 'unknown'}"
        f"  reuse from {info.get('reuse_from') or '-'}" + (f"  params {run_params.canonical(params)}" if params else "")
    )
    changed = run_info.parameter_diff(info.get("parameters") or {}, run_params.run_parameters(project, run_id))
    if unfit:  # judged against its own recorded parameters then
        print(f"{unfit} (The run cannot continue so; stale below is judged with the parameters it recorded.)")
    if changed:  # then "stale: parameters changed" below is against the config, not a change in the run
        print("The parameters in config/ now differ from the run's (stale below is against them):")
        print("\n".join(f"  {line}" for line in changed))
    width = max(len(r[0]) for r in rows) if rows else 4
    print(f"{'node':<{width}}  {'status':<20}  {'duration':>9}  reason")
    for family, status, reason, duration in rows:
        print(f"{family:<{width}}  {status:<20}  {duration:>9}  {reason}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """``runs delete R``: list what deleting run R removes; with ``--yes``, delete it."""
    project = load_project(args.module)
    if args.run_id.lower() == "latest":
        raise RunError("Name the run to delete: 'latest' is whichever run is newest when the command runs.")
    folders = run_outputs.delete_run(project, args.run_id, dry_run=not args.yes)
    if args.yes:
        print(f"Deleted run {args.run_id}:")
        print("\n".join(f"  {folder}" for folder in folders))
    else:
        print(f"Deleting run {args.run_id} would remove (no other run reuses them):")
        print("\n".join(f"  {folder}" for folder in folders))
        print(f"Run again with --yes to delete: luigi-tasks runs delete {args.run_id} --yes")
    return 0


def cmd_invalidate(args: argparse.Namespace) -> int:
    project = load_project(args.module)
    start = find_node(args.start)
    run_id = runs.named_run(project, args.run_id)
    for family, moved, already in run_outputs.invalidate(project, run_id, start):
        if already:
            print(f"{family} in run {run_id} was invalidated already (nothing more to set aside)")
            continue
        kept = f"; kept aside: {', '.join(moved)}" if moved else ""
        print(f"invalidated {family} in run {run_id}{kept}")
    command = _rerun_invalidated(project, run_id, args.module, start)
    print(f"Rerun them with: {command}")
    if "--local-scheduler" not in command.split():
        cooldown = luigi.configuration.get_config().get("scheduler", "stable_done_cooldown_secs", "10")
        print(
            f"(Through luigid: it does not hand out a task it finished less than {cooldown} s ago ([scheduler] "
            "stable_done_cooldown_secs), so a rerun that soon exits 25, the node 'not granted run permission': "
            f"run it again {cooldown} s after the run ended.)"
        )
    return 0


def _rerun_invalidated(project: Project, run_id: str, module: str | None, start: type[NodeTask]) -> str:
    """The ``luigi`` command that reruns ``start`` and its downstream in run ``run_id``: the
    command that started the run (FullPipeline's for a run started from Python), with its task
    replaced by the smallest pipeline task needing them all when it does not."""
    words = ((run_info.read_run_info(project, run_id) or {}).get("command") or "").split()
    if not words or os.path.basename(words[0]) != "luigi":
        words = ["luigi", "--module", module or DEFAULT_MODULE, "FullPipeline"]
    graph = current_graph()
    needed = set(graph.downstream_closure(start))
    roots: list[type[luigi.Task]] = [*pipeline_classes(), *graph.upstream]
    tasks = {t.get_task_family(): t for t in roots}
    at = next((i for i, word in enumerate(words) if i and word in tasks), None)

    def covered(cls: type[luigi.Task]) -> int | None:  # how many nodes it needs, if all of those
        nodes = graph.closure_of(node_classes(cls))
        return len(nodes) if needed <= set(nodes) else None

    if at is not None and covered(tasks[words[at]]) is None:
        fits = [(n, cls.get_task_family()) for cls in pipeline_classes() if (n := covered(cls)) is not None]
        if fits:
            words[at] = min(fits)[1]
    return luigi_command(words[1:], run_id)
