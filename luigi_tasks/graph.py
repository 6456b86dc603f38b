"""How nodes connect: which node produces each dataset, checked once per process.

Every node class made by :func:`luigi_tasks.node` is registered here. The first time a
node or pipeline task is built, the registry is resolved against the project's catalog
and parameters: each dataset must have exactly one producer, the nodes must form no
cycle, every output must be in the catalog and every ``params:`` input in the
parameters. After that, finding a node's upstream tasks is a dictionary lookup.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from luigi_tasks.errors import ConfigError, NodeError, PipelineError
from luigi_tasks.fingerprint import unwrap
from luigi_tasks.project import Project, current_project, is_parameter

if TYPE_CHECKING:
    import luigi

    from luigi_tasks.node import NodeTask

_registry: list[type[NodeTask]] = []
_resolved: tuple[Project, NodeGraph] | None = None
_storage_checked: NodeGraph | None = None


def register(task_class: type[NodeTask]) -> None:
    """Add a node class; the graph is resolved again when next needed."""
    global _resolved
    _registry.append(task_class)
    _resolved = None


def registered() -> tuple[type[NodeTask], ...]:
    """The node classes made so far in this process (by the modules imported)."""
    return tuple(_registry)


@dataclass(frozen=True)
class NodeGraph:
    """The resolved graph: producers by dataset, upstream nodes and raw inputs by node."""

    producers: dict[str, type[NodeTask]]
    upstream: dict[type[NodeTask], tuple[type[NodeTask], ...]]
    raw_inputs: dict[type[NodeTask], tuple[str, ...]]
    #: Kedro's transcoding: an input ``df@spark`` read from the file a node saves as ``df@pandas``.
    transcoded: dict[str, str] = field(default_factory=dict)

    def made_as(self, name: str) -> str:
        """The output name under which a node saves dataset ``name`` (``name`` itself, or
        for a transcoded input the producer's ``<base>@<other>``)."""
        return self.transcoded.get(name, name)

    def producer(self, name: str) -> type[NodeTask] | None:
        """The node that saves dataset ``name`` (also as a transcoded sibling), if any."""
        return self.producers.get(self.transcoded.get(name, name))

    def closure(self, root: luigi.Task) -> list[type[NodeTask]]:
        """The nodes ``root`` (a node or pipeline task) needs, upstream first."""
        from luigi_tasks.pipeline import node_classes

        return self.closure_of(node_classes(type(root)))

    def closure_of(self, starts: Sequence[type[NodeTask]]) -> list[type[NodeTask]]:
        """``starts`` and everything upstream of them, upstream first."""
        order: list[type[NodeTask]] = []
        seen: set[type[NodeTask]] = set()
        for start in starts:
            if start in seen:
                continue
            seen.add(start)
            stack = [(start, iter(self.upstream[start]))]
            while stack:
                task, ups = stack[-1]
                up = next(ups, None)
                if up is None:
                    order.append(task)
                    stack.pop()
                elif up not in seen:
                    seen.add(up)
                    stack.append((up, iter(self.upstream[up])))
        return order

    @functools.cached_property
    def children(self) -> dict[type[NodeTask], list[type[NodeTask]]]:
        """The nodes that read each node's outputs (a node nothing reads is absent)."""
        found: dict[type[NodeTask], list[type[NodeTask]]] = {}
        for task, ups in self.upstream.items():
            for up in ups:
                found.setdefault(up, []).append(task)
        return found

    def downstream_closure(self, start: type[NodeTask]) -> list[type[NodeTask]]:
        """``start`` and every node that depends on it, directly or not."""
        order, seen, stack = [start], {start}, [start]
        while stack:
            for child in self.children.get(stack.pop(), []):
                if child not in seen:
                    seen.add(child)
                    order.append(child)
                    stack.append(child)
        return order


def current_graph() -> NodeGraph:
    """The registry resolved against the current project (cached until either changes)."""
    global _resolved
    project = current_project()
    if _resolved is None or _resolved[0] is not project:
        _resolved = (project, resolve(_registry, project))
    return _resolved[1]


def check_before_run() -> NodeGraph:
    """:func:`current_graph`, and once per graph what only the storage can tell: no
    unversioned output's filepath is the folder of its earlier versions, no versioned local
    output's filepath is a file (:meth:`~luigi_tasks.catalog.DataCatalog.check_filepath`).

    Node and pipeline tasks call this when built, before anything runs; commands that only
    show the project (``catalog list``, ``viz``) use :func:`current_graph`. It costs one check
    of the path per output, once per process.

    Raises:
        DatasetError: naming the dataset, the folder and the catalog file to fix.
    """
    global _storage_checked
    resolved = current_graph()
    if _storage_checked is not resolved:
        catalog = current_project().catalog
        for name in resolved.producers:
            catalog.check_filepath(name)
        _storage_checked = resolved
    return resolved


@contextmanager
def isolated_registry() -> Iterator[None]:
    """Inside the block only nodes made in it exist; after it they are forgotten (for tests)."""
    global _registry, _resolved
    saved = _registry
    _registry, _resolved = [], None
    try:
        yield
    finally:
        _registry, _resolved = saved, None


def resolve(tasks: Sequence[type[NodeTask]], project: Project) -> NodeGraph:
    """Check ``tasks`` against ``project`` and connect them.

    Raises:
        NodeError: a node's inputs do not fit its function's signature.
        PipelineError: a dataset has two producers, the nodes form a cycle, or an output or
            parameter is not declared.
    """
    producers: dict[str, type[NodeTask]] = {}
    families: dict[str, type[NodeTask]] = {}
    for task in tasks:
        spec = task.node
        family = task.get_task_family()
        if family in families:
            raise PipelineError(
                f"Two nodes are both named '{family}' (functions {families[family].node.func_name} "
                f"and {spec.func_name}). Give one of them another name=."
            )
        families[family] = task
        _check_signature(task)
        for output in spec.outputs:
            if is_parameter(output):
                raise PipelineError(
                    f"Node {family} outputs '{output}', a parameter: parameters are read from "
                    "config/parameters.yml, never made by a node. Output a dataset of the catalog."
                )
            if producers.get(output) is task:
                raise PipelineError(f"Node {family} lists output '{output}' twice: list it once.")
            if output in producers:
                raise PipelineError(
                    f"Dataset '{output}' is produced by two nodes: "
                    f"{producers[output].get_task_family()} and {family}. A dataset has "
                    "exactly one producer: rename the output of one of them (every node() the imported "
                    "modules make counts, in a pipeline's parts or not: delete one you no longer use)."
                )
            if output not in project.catalog:
                raise PipelineError(
                    f"Node {family} outputs '{output}', which is not in the catalog. Declare it "
                    f"in {project.root / 'config' / 'catalog.yml'} (outputs must be saved for Luigi to see them "
                    f"done).{_elsewhere_hint(task, project)}"
                )
            producers[output] = task
    by_base = _transcoding_bases(producers)
    upstream: dict[type[NodeTask], tuple[type[NodeTask], ...]] = {}
    raw_inputs: dict[type[NodeTask], tuple[str, ...]] = {}
    transcoded: dict[str, str] = {}
    for task in tasks:
        ups: list[type[NodeTask]] = []
        raws: list[str] = []
        for ref in task.node.inputs:
            made = ref if ref in producers else by_base.get(ref.partition("@")[0])
            if is_parameter(ref):
                try:
                    project.parameter(ref)
                except ConfigError as exc:
                    raise PipelineError(f"Node {task.get_task_family()}: {exc}") from None
            elif made is not None:
                if made != ref:
                    _check_transcoding(project, ref, made, producers[made])
                    transcoded[ref] = made
                if producers[made] not in ups:
                    ups.append(producers[made])
            elif ref in project.catalog:
                raws.append(ref)
            else:
                raise PipelineError(
                    f"Node {task.get_task_family()} ({_defined_in(task)}) reads '{ref}', which is not in the "
                    f"catalog.{project.catalog.did_you_mean(ref)} Fix the name in the node's inputs, or "
                    "declare the dataset in config/catalog.yml."
                )
        upstream[task] = tuple(ups)
        raw_inputs[task] = tuple(raws)
    _check_acyclic(upstream)
    return NodeGraph(producers, upstream, raw_inputs, transcoded)


def _transcoding_bases(producers: dict[str, type[NodeTask]]) -> dict[str, str]:
    """Each produced output by its base name, the part before ``@`` (Kedro's transcoding).

    Raises:
        PipelineError: two nodes save one base name in two formats (one file, two makers).
    """
    bases: dict[str, str] = {}
    for output in producers:
        base = output.partition("@")[0]
        if base in bases and producers[bases[base]] is not producers[output]:
            raise PipelineError(
                f"Datasets '{bases[base]}' and '{output}' are one file (transcoding: the part before '@'), "
                f"saved by two nodes: {producers[bases[base]].get_task_family()} and "
                f"{producers[output].get_task_family()}. A dataset has exactly one producer."
            )
        bases.setdefault(base, output)
    return bases


def _check_transcoding(project: Project, name: str, made: str, producer: type[NodeTask]) -> None:
    """``name`` is read from the file ``producer`` saves as ``made``: both entries must point
    at the same data.

    Raises:
        PipelineError: they differ in filepath or versioning.
    """
    read, saved = project.catalog.entry(name), project.catalog.entry(made)
    if (read.filepath, read.versioned) != (saved.filepath, saved.versioned):
        raise PipelineError(
            f"Dataset '{name}' is read from what {producer.get_task_family()} saves as '{made}' "
            "(transcoding: the part before '@' names one dataset), so both catalog entries need the "
            f"same filepath and versioned: '{name}' has {read.filepath} (versioned: {read.versioned}), "
            f"'{made}' has {saved.filepath} (versioned: {saved.versioned})."
        )


def _defined_in(task: type[NodeTask]) -> str:
    """For messages: the file of the node's function, relative to the working folder if under it."""
    try:
        path = inspect.getsourcefile(unwrap(task.node.func))
    except TypeError:
        path = None
    if path is None:
        return task.node.func_name
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _check_signature(task: type[NodeTask]) -> None:
    spec = task.node
    try:
        signature = inspect.signature(spec.func)
    except (TypeError, ValueError):
        return  # builtins without a signature: checked when called
    try:
        if spec.input_names is None:
            signature.bind(*spec.inputs)
        else:
            signature.bind(**dict.fromkeys(spec.input_names))
    except TypeError as exc:
        shown: object = list(spec.inputs)
        why = str(exc)
        if spec.input_names is not None:
            shown = dict(zip(spec.input_names, spec.inputs, strict=True))
            params = signature.parameters
            if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                unknown = [name for name in spec.input_names if name not in params]
                if unknown:  # bind() names a missing argument first; the typo is this key
                    close = difflib.get_close_matches(unknown[0], list(params), n=1)
                    why = f"it has no argument {unknown[0]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        raise NodeError(
            f"Node {task.get_task_family()}: inputs {shown} do not fit "
            f"{spec.func_name}{signature}: {why}. Make the inputs match the function's arguments."
        ) from None


def _check_acyclic(upstream: dict[type[NodeTask], tuple[type[NodeTask], ...]]) -> None:
    state: dict[type[NodeTask], int] = {}  # 1 = on the current path, 2 = done
    for start in upstream:
        if state.get(start):
            continue
        path: list[type[NodeTask]] = [start]
        iters = [iter(upstream[start])]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                names = " -> ".join(t.get_task_family() for t in reversed(cycle))
                raise PipelineError(
                    f"The nodes form a cycle: {names}. Each produces a dataset the next one "
                    "consumes; break the cycle by changing one node's inputs or outputs."
                )
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(upstream[nxt]))


def _elsewhere_hint(task: type[NodeTask], project: Project) -> str:
    """A hint when ``task``'s code belongs to another project (a folder holding ``config/``
    above its file): a command run in one project's folder for another's pipelines."""
    module = sys.modules.get(getattr(unwrap(task.node.func), "__module__", ""))
    file = getattr(module, "__file__", None)
    if file is None:
        return ""
    here = Path(file).resolve().parent
    own = next((f for f in (here, *here.parents) if (f / "config" / "catalog.yml").is_file()), None)
    if own is None or own == project.root.resolve():
        return ""
    return (
        f" (The node's code is in the project at {own}, and this command read the project at {project.root}, "
        "found from the working folder: run it in the node's own project folder.)"
    )
