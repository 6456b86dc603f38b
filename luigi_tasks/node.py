"""Nodes: plain Python functions wired by dataset names, each made a Luigi Task class.

Example:
    >>> def train_model(train_x, train_y, model_params): ...
    >>> TrainModel = node(train_model, inputs=["train_x", "train_y", "params:model"],
    ...                   outputs="model")
    >>> TrainModel.get_task_family()        # namespace: the last part of the function's module
    'data_science.TrainModel'

The function stays pure and testable without Luigi. The task class loads the inputs from
the catalog (and ``params:`` from ``config/parameters.yml``), calls the function, checks it
returned what the node declares, and saves each output for the task's ``run_id``. Its
``requires()`` are the nodes producing its inputs (or :class:`RawData` for a dataset no node
produces) and its ``output()`` the catalog's datasets, so Luigi's completeness check is the
catalog's.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import luigi

from luigi_tasks import fingerprint, graph, interrupts, leases, node_records, run_plan
from luigi_tasks.datasets import AbstractDataset
from luigi_tasks.errors import NodeError, RunError, VersionExistsError
from luigi_tasks.project import Project, current_project, is_parameter
from luigi_tasks.report import describe, node_failure, report
from luigi_tasks.run_params import run_parameters
from luigi_tasks.status import StatusReporter
from luigi_tasks.task_params import FixedParams
from luigi_tasks.versioning import RunIdParameter

logger = logging.getLogger("luigi_tasks")

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Node:
    """What a node is, apart from Luigi: a function, its inputs and outputs, its name."""

    func: Callable[..., Any]
    inputs: tuple[str, ...]
    #: Argument names when inputs were given as a dict (keyword call); else positional.
    input_names: tuple[str, ...] | None
    outputs: tuple[str, ...]
    output_style: Literal["single", "sequence", "mapping"]
    name: str
    namespace: str
    #: Keys of the returned dict, parallel to :attr:`outputs`, when outputs were a dict.
    output_keys: tuple[str, ...] | None = None

    @property
    def func_name(self) -> str:
        inner = fingerprint.unwrap(self.func)
        name = getattr(inner, "__qualname__", None) or type(inner).__qualname__
        return name if inner is self.func else f"partial({name})"

    def call(self, values: Sequence[Any]) -> Any:
        """Call the function with input values in the order of :attr:`inputs`."""
        if self.input_names is None:
            return self.func(*values)
        return self.func(**dict(zip(self.input_names, values, strict=True)))

    def bind_outputs(self, result: Any) -> dict[str, Any]:
        """Map the function's return value to output names, or raise :class:`NodeError`."""
        where = f"Node {self.namespace}.{_class_name(self.name)} ({self.func_name})"
        if self.output_style == "single":
            return {self.outputs[0]: result}
        if self.output_style == "mapping":
            keys = self.output_keys or self.outputs
            if not isinstance(result, Mapping) or set(result) != set(keys):
                got = sorted(result) if isinstance(result, Mapping) else type(result).__name__
                raise NodeError(
                    f"{where} declares outputs {sorted(keys)} (a dict), but returned {got}. "
                    "Return a dict with exactly those keys."
                )
            return {name: result[key] for key, name in zip(keys, self.outputs, strict=True)}
        if not isinstance(result, (tuple, list)) or len(result) != len(self.outputs):
            got = (
                f"{len(result)} values" if isinstance(result, (tuple, list)) else f"one {type(result).__name__}"
            )
            raise NodeError(
                f"{where} declares {len(self.outputs)} outputs ({', '.join(self.outputs)}), but "
                f"returned {got}. Return a tuple of {len(self.outputs)} values in that order."
            )
        return dict(zip(self.outputs, result, strict=True))


class NodeTask(FixedParams, luigi.Task):
    """The Luigi Task of one node and one run. Made by :func:`node`; not used directly.

    Its only parameter is ``run_id``: Luigi adds every parameter of every task class to its
    command-line parser, so each one costs on every command of a large pipeline.
    ``--reuse-from`` belongs to the pipeline tasks, where runs start.
    """

    run_id = RunIdParameter()
    node: ClassVar[Node]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_up_run(self)
        # Luigi asks for these several times per task; they are fixed once the run is prepared.
        self._upstream_tasks: list[luigi.Task] | None = None
        self._output_targets: dict[str, AbstractDataset[Any]] | None = None
        self._input_targets: dict[str, AbstractDataset[Any]] | None = None
        self._record: node_records.NodeRecord | None = None  # this attempt's, for on_failure

    def complete(self) -> bool:
        """Luigi's rule (every output exists), but a node with an unversioned output counts
        as complete only once this run has completed it: that one file, shared by every run,
        may hold another run's result (Kedro makes it again in each run, too). Nor does a node
        whose record says it failed, though it may have saved before failing."""
        return run_plan.may_be_complete(current_project(), self.run_id, self.get_task_family()) and super().complete()

    def requires(self) -> list[luigi.Task]:
        if self._upstream_tasks is None:
            g, cls = graph.current_graph(), type(self)
            self._upstream_tasks = [up(run_id=self.run_id) for up in g.upstream[cls]] + [
                RawData(dataset=name, run_id=self.run_id) for name in g.raw_inputs[cls]
            ]
        return self._upstream_tasks

    def output(self) -> dict[str, AbstractDataset[Any]]:
        """This run's version of each output, or the earlier run's version it reuses."""
        if self._output_targets is None:
            self._output_targets = output_targets(type(self), self.run_id)
        return self._output_targets

    def input_targets(self) -> dict[str, AbstractDataset[Any]]:
        """The dataset behind each input: its producer's output for this run, or raw data."""
        if self._input_targets is None:
            project, g = current_project(), graph.current_graph()
            targets: dict[str, AbstractDataset[Any]] = {}
            for ref in self.node.inputs:
                if is_parameter(ref):
                    continue
                producer, made = g.producer(ref), g.made_as(ref)
                if producer is None:
                    targets[ref] = project.catalog.dataset(ref, self.run_id)
                    continue
                saved = output_targets(producer, self.run_id)[made]
                # A transcoded input reads the producer's version through its own entry.
                targets[ref] = saved if made == ref else project.catalog.dataset(ref, saved.version or self.run_id)
            self._input_targets = targets
        return self._input_targets

    def run(self) -> None:
        self._record = None
        project, spec, family = current_project(), self.node, self.get_task_family()
        previous = node_records.read_node_record(project, self.run_id, family)
        reason = run_plan.state(project, self.run_id).reasons.get(family) or node_records.reason_to_run(previous)
        attempt = (previous.attempt if previous else 0) + 1
        record = self._record = node_records.NodeRecord.start(family, self.run_id, reason=reason, attempt=attempt)
        started, start_clock = time.perf_counter(), _clock()
        steps = len(spec.inputs) + 1 + len(spec.outputs)  # load each input, call, save each output

        # A node still busy after status.INTERVAL logs that it runs and writes its "running"
        # record; a quick node only logs and records its end (a log line or an atomic file
        # write costs about as much as a trivial node's work).
        running = functools.partial(self._long_run, project, record, start_clock)
        try:
            with StatusReporter(self, on_long_run=running) as status:
                values = self._load_inputs(status, steps)
                inputs_text = ", ".join(
                    f"{ref} {describe(v)}" for ref, v in zip(spec.inputs, values, strict=True) if not is_parameter(ref)
                ) or "-"
                status.update(f"running {spec.func_name}; in: {inputs_text}", progress=round(100 * len(values) / steps))
                called = time.monotonic()
                results = spec.bind_outputs(spec.call(values))
                interrupts.raise_if_interrupted_since(called, family)  # a function may swallow Ctrl-C
                # Taken before the saves, so that nothing can fail after them.
                fp = fingerprint.node_fingerprint(type(self), self.run_id)
                targets = self._save_outputs(results, status, steps)
                outputs_text = ", ".join(f"{name} {describe(v)}" for name, v in results.items())
                duration = time.perf_counter() - started
                status.finish(f"done in {duration:.2f} s; in: {inputs_text}; out: {outputs_text}")
        except KeyboardInterrupt:
            report.interrupted_in(family)
            with suppress(Exception):  # "running" by this process: runs show says interrupted once it exits
                node_records.write_node_record(project, record)
            raise
        except _SavedElsewhere as elsewhere:
            # theirs stays the latest, after any "running" of ours
            node_records.write_node_record(project, elsewhere.record)
            logger.warning(
                "%s [run %s]: another worker (host %s, pid %s) saved its outputs while this one ran it: those "
                "stand, and this result is discarded (two commands on one run with --local-scheduler do not "
                "coordinate; luigid hands each node to one worker)",
                family, self.run_id, elsewhere.record.host, elsewhere.record.pid,
            )
            return

        done = record.finish(
            "done",
            versions=dict.fromkeys(targets, self.run_id),
            outputs={n: t.path for n, t in targets.items()},
            fingerprint=None if fp.missing else fp.to_dict(),  # unknown upstream: record none
            stamps={n: st for n, t in targets.items() if t.version is None and (st := t.stamp())},
        )
        try:
            node_records.write_node_record(project, done)
        except RunError as exc:  # a full disk: outputs without a record would count as done, unrecorded
            raise RunError(f"{exc} {_set_aside_unrecorded(targets)}") from None
        run_plan.state(project, self.run_id).must_run.discard(family)
        logger.info(
            "%s [run %s] done in %.2f s (%s-%s; why: %s); out: %s",
            family, self.run_id, duration, start_clock, _clock(), reason, outputs_text,
        )

    def _long_run(self, project: Project, record: node_records.NodeRecord, start_clock: str) -> None:
        logger.info("%s [run %s] running since %s (why: %s)", record.node, self.run_id, start_clock, record.reason)
        node_records.write_node_record(project, record)

    def _load_inputs(self, status: StatusReporter, steps: int) -> list[Any]:
        project, sources, g = current_project(), self.input_targets(), graph.current_graph()
        parameters = run_parameters(project, self.run_id)
        values = []
        for i, ref in enumerate(self.node.inputs):
            status.update(f"loading {ref}", progress=round(100 * i / steps))
            values.append(project.parameter(ref, parameters) if is_parameter(ref) else sources[ref].load())
            if not is_parameter(ref) and g.producer(ref) is None:
                self._check_raw_unchanged(ref, sources[ref])
        return values

    def _check_raw_unchanged(self, ref: str, dataset: AbstractDataset[Any]) -> None:
        """Refuse a raw input replaced since the run was prepared: the node's record would
        carry the old file's hash with results made from the new one, and a later run would
        reuse them as unchanged."""
        if dataset.path and fingerprint.raw_changed_since_hashed(dataset.path):
            raise NodeError(
                f"Raw input '{ref}' ({dataset.path}) was replaced or edited while run '{self.run_id}' ran (after "
                "its content hash was taken when the run started), so what this node read is not what the run "
                "recorded. Nothing was saved. Run the command again: it hashes the file as it is then."
            )

    def _save_outputs(
        self, results: dict[str, Any], status: StatusReporter, steps: int
    ) -> dict[str, AbstractDataset[Any]]:
        targets = self.output()
        if len(results) > 1:  # a wrong last output is refused before the first one is saved
            for name, value in results.items():
                targets[name].check_saveable(value)
        done_before = len(self.node.inputs) + 1
        for i, (name, value) in enumerate(results.items()):
            status.update(f"saving {name}", progress=round(100 * (done_before + i) / steps))
            try:
                targets[name].save(value)
            except VersionExistsError:
                if targets[name].version is None:
                    raise  # a table with if_exists 'fail', one for every run: fails whichever run made it
                winner = self._saved_meanwhile(targets[name])
                if winner is not None:
                    raise _SavedElsewhere(winner) from None
                # Left by an earlier attempt, killed half-way or failed after saving.
                aside = targets[name].set_aside()
                logger.warning("%s: set aside %s from an earlier attempt: %s", self.get_task_family(), name, aside)
                targets[name].save(value)
        return targets

    def _saved_meanwhile(self, target: AbstractDataset[Any]) -> node_records.NodeRecord | None:
        """The record of another worker that saved ``target`` (since this command started, after
        Luigi found the node incomplete here; or before, while it still runs the node or having
        completed it since) and completed the node; ``None`` if the version is an earlier
        attempt's (killed, or failed after saving) or that worker failed after saving it."""
        saved, project, family = target.saved_at(), current_project(), self.get_task_family()
        if saved is None:
            return None
        if saved < _COMMAND_STARTED - _CLOCK_SLACK_S:  # before this command: a killed attempt's, unless
            if not leases.running_elsewhere(project, self.run_id, family):  # another runs it now, or completed
                # it while this command ran (an earlier command's completion is what this one remakes)
                return leases.completed_elsewhere(project, self.run_id, family, _COMMAND_STARTED - _CLOCK_SLACK_S)
            return leases.wait_for_other_worker(project, self.run_id, family, saved - _CLOCK_SLACK_S)
        return leases.wait_for_other_worker(project, self.run_id, family, _COMMAND_STARTED)

    def on_failure(self, exception: BaseException) -> str:
        family = self.get_task_family()
        message = f"{type(exception).__name__}: {exception}"
        try:
            run_plan.state(current_project(), self.run_id).must_run.add(family)  # its outputs may exist
            record = self._record or node_records.read_node_record(current_project(), self.run_id, family)
            if record is None or record.status != "running":
                record = node_records.NodeRecord.start(family, self.run_id)
            node_records.write_node_record(current_project(), record.finish("failed", error=message))
        except Exception:  # the record must not hide the node's own error
            logger.exception("%s: could not record the failure", family)
        logger.error("%s [run %s] failed: %s", family, self.run_id, message)
        return node_failure(self, exception)


#: When this process (the command; forked workers inherit it) started running nodes, roughly.
_COMMAND_STARTED = time.time()
#: File times come from a coarser clock than ``time.time()``: a version saved just after the
#: command started may look a few milliseconds older.
_CLOCK_SLACK_S = 0.05


class _SavedElsewhere(Exception):
    """Another worker saved this node's outputs in the run while this one ran it."""

    def __init__(self, record: node_records.NodeRecord) -> None:
        super().__init__(record.node)
        self.record = record


def _clock() -> str:
    """Local wall-clock time for log lines, as the log file's own timestamps."""
    return time.strftime("%H:%M:%S")


def output_targets(task_class: type[NodeTask], run_id: str) -> dict[str, AbstractDataset[Any]]:
    """The datasets a node's task outputs in run ``run_id`` (reused versions included)."""
    project = current_project()
    versions = run_plan.state(project, run_id).versions.get(task_class.get_task_family(), {})
    return {name: project.catalog.dataset(name, versions.get(name, run_id)) for name in task_class.node.outputs}


class RawData(FixedParams, luigi.ExternalTask):
    """A dataset no node produces (raw input): Luigi waits for it and never runs it."""

    dataset = luigi.Parameter(description="Catalog name of the raw dataset.")
    run_id = RunIdParameter()

    def output(self) -> AbstractDataset[Any]:
        return current_project().catalog.dataset(self.dataset, self.run_id)


report.connect(NodeTask)
report.connect(RawData)


def _set_aside_unrecorded(targets: dict[str, AbstractDataset[Any]]) -> str:
    """Set aside the versions a node saved but could not record, so that its resume makes
    them again; say what happened to them."""
    moved, kept = [], []
    for name, target in targets.items():
        if target.version is None:
            continue  # a shared file counts as done only with this run's record: it runs again anyway
        try:
            moved.append(f"{name} -> {target.set_aside()}")
        except Exception:  # noqa: BLE001 - said below; the record error is the one to raise
            kept.append(name)
    said = f"Its outputs were set aside, so the resume makes them again: {', '.join(moved)}." if moved else ""
    if kept:
        said += f" Could not set aside {', '.join(kept)}: delete them, or the resume takes them for done."
    return said.strip()


def set_up_run(task: luigi.Task) -> None:
    """What a node or pipeline task does when it is made, before Luigi schedules anything."""
    report.before_run()  # scheduler options that would be ignored: refused before run.json exists
    graph.check_before_run()  # check the whole project once, before anything runs
    run_plan.prepare(task)  # refuse other parameters or stale results; decide reuse
    report.task_created(task)


def node(
    func: Callable[..., Any],
    inputs: str | Sequence[str] | Mapping[str, str] | None,
    outputs: str | Sequence[str] | Mapping[str, str],
    *,
    name: str | None = None,
    namespace: str | None = None,
) -> type[NodeTask]:
    """Make the Luigi Task class of a node.

    Args:
        func: A plain function; it receives the loaded inputs and returns the outputs.
        inputs: Dataset names or ``params:<key>`` / ``parameters``: one name, a list
            (positional arguments) or a dict ``{argument: name}`` (keyword arguments).
        outputs: One name (the return value), a list (a tuple returned in that order) or a
            dict ``{key: name}`` (a dict returned with those keys).
        name: The node's name (default: the function's name); the task class is its
            CamelCase form, e.g. ``train_model`` -> ``TrainModel``.
        namespace: The Luigi namespace (default: the last part of the function's module,
            e.g. ``data_science``, or of its package for a Kedro-style
            ``pipelines/<name>/nodes.py``), which groups the node in the scheduler UI.

    Returns:
        A :class:`NodeTask` subclass with a ``--run-id`` parameter.

    Raises:
        NodeError: the name is not an identifier, or there are no outputs. Inputs are
            checked against the function and the catalog when the pipeline is first
            resolved (:mod:`luigi_tasks.graph`).

    Example:
        >>> def split_data(houses, split: dict): ...   # returns (train_x, test_x)
        >>> SplitData = node(split_data, inputs=["preprocessed_houses", "params:split"],
        ...                  outputs=["train_x", "test_x"])
        >>> SplitData(run_id="r1").output()["train_x"].path
        '/project/data/05_model_input/train_x.parquet/r1/train_x.parquet'
    """
    inner = fingerprint.unwrap(func)  # a functools.partial: named after its function
    node_name = name or cast(str, getattr(inner, "__name__", ""))
    if not _NAME_RE.fullmatch(node_name):
        raise NodeError(f"Node name {node_name!r} is not an identifier: pass name='my_node'.")
    module = getattr(inner, "__module__", None) or type(inner).__module__
    ns = namespace if namespace is not None else default_namespace(module)
    in_refs, in_names = _normalise_inputs(inputs)
    out_keys = None
    out_refs: tuple[str, ...]
    style: Literal["single", "sequence", "mapping"]
    if isinstance(outputs, str):
        out_refs, style = (outputs,), "single"
    elif isinstance(outputs, Mapping):
        out_refs, out_keys, style = tuple(outputs.values()), tuple(outputs), "mapping"
    else:
        out_refs, style = tuple(outputs), "sequence"
    if not out_refs:
        raise NodeError(
            f"Node '{node_name}' has no outputs: a Luigi task is done when its outputs exist, "
            "so every node must save at least one dataset."
        )
    spec = Node(func, in_refs, in_names, out_refs, style, node_name, ns, out_keys)
    cls_name = _class_name(node_name)
    task_class = type(
        cls_name,
        (NodeTask,),
        {
            "node": spec,
            "task_namespace": ns,
            "__module__": module,
            "__qualname__": cls_name,
            "__doc__": inner.__doc__ or f"Node {node_name}.",
        },
    )
    graph.register(task_class)
    return task_class


#: Module names that say what a module holds, not which pipeline: Kedro's layout puts each
#: pipeline's nodes in ``pipelines/<pipeline>/nodes.py``.
_GENERIC_MODULES = frozenset({"nodes", "node", "pipeline"})


def default_namespace(module: str) -> str:
    """A node's Luigi namespace by default: the last part of its function's module, or of
    its package for a Kedro-style ``nodes.py`` / ``pipeline.py``.

    Example:
        >>> default_namespace("luigi_tasks.pipelines.data_science")
        'data_science'
        >>> default_namespace("my_project.pipelines.data_processing.nodes")
        'data_processing'
    """
    parts = module.split(".")
    while len(parts) > 1 and parts[-1] in _GENERIC_MODULES:
        parts.pop()
    return parts[-1]


def _normalise_inputs(
    inputs: str | Sequence[str] | Mapping[str, str] | None,
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if inputs is None:
        return (), None
    if isinstance(inputs, str):
        return (inputs,), None
    if isinstance(inputs, Mapping):
        return tuple(inputs.values()), tuple(inputs)
    return tuple(inputs), None


def _class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or name
