"""Fingerprints: what a node's output depends on, so reruns and reuse can be trusted.

A node's fingerprint covers its function's code (:func:`code_hash`: its own source and what
it uses from the same package, i.e. functions, classes and the attributes it reads of modules,
compared as syntax trees so formatting and comments do not count, plus the plain-data
constants it reads and its default argument values; not other values, other packages' code
or files read outside the catalog), the parameters it reads, its datasets' catalog options that
change the data (``load_args``, ``save_args``), and the fingerprints of its inputs:
the producing node's fingerprint, or the content hash of a raw file. Everything is
computed once per process; raw files are hashed once and then recognised by size and
modification time. A raw file that is gone cannot be hashed: the fingerprints that depend
on it name it in :attr:`Fingerprint.missing` and cannot be compared (no stale or unchanged
verdict is made from them, and none is recorded).

Example:
    >>> fp = node_fingerprint(TrainModel, "r1")
    >>> fp.explain_change(old)        # 'code changed in train_model'
"""

from __future__ import annotations

import ast
import dis
import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import textwrap
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from luigi_tasks.datasets import filesystem
from luigi_tasks.project import Project, current_project, is_parameter
from luigi_tasks.run_params import run_parameters
from luigi_tasks.storage import cache_path, read_cached, settled, stat_key, write_cached

if TYPE_CHECKING:
    from luigi_tasks.graph import NodeGraph
    from luigi_tasks.node import NodeTask


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Fingerprint:
    """A node's fingerprint and the parts it is made of (to say what changed)."""

    code: str
    params: str
    inputs: dict[str, str]
    digest: str
    #: Raw inputs upstream that are gone (then nothing can be said from this fingerprint).
    missing: tuple[str, ...] = ()
    #: Hash of its datasets' catalog options that change the data read or written
    #: (load_args, save_args, ...); "" when they have none. ``None`` in a fingerprint
    #: recorded before options counted.
    options: str | None = ""
    #: The digest, and the inputs' digests, as fingerprints were made before options counted:
    #: what such a recorded fingerprint is compared with.
    legacy: str = ""
    legacy_inputs: dict[str, str] = field(default_factory=dict)
    #: The datasets it writes, comma-separated; ``None`` in a fingerprint recorded before
    #: they were kept apart (they were always in the digest).
    outputs: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params, "inputs": dict(self.inputs), "digest": self.digest,
                "options": self.options, "outputs": self.outputs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(data["code"], data["params"], dict(data["inputs"]), data["digest"], options=data.get("options"),
                   outputs=data.get("outputs"))

    def explain_change(self, old: Fingerprint, func_name: str) -> str | None:
        """Why ``old`` (recorded earlier) differs from this one, or ``None`` if equal."""
        before_options = old.options is None
        digest, inputs = (self.legacy, self.legacy_inputs) if before_options else (self.digest, self.inputs)
        if old.digest == digest:
            return None
        if old.code != self.code:
            what = "code or bound arguments" if func_name.startswith("partial(") else "code"
            return f"{what} changed in {func_name}"
        if old.params != self.params:
            return "parameters changed"
        if old.outputs is not None and old.outputs != self.outputs:
            before, now = (o.replace(",", ", ") for o in (old.outputs, self.outputs or ""))
            return f"writes other datasets: {before} -> {now}"
        if set(old.inputs) != set(inputs):  # a renamed dataset changes its options' keys too
            gone, added = sorted(set(old.inputs) - set(inputs)), sorted(set(inputs) - set(old.inputs))
            return f"reads other datasets: {', '.join(gone) or 'none'} -> {', '.join(added) or 'none'}"
        if not before_options and old.options != self.options:
            return "catalog options of its datasets changed (load_args, save_args, ...)"
        changed = sorted(k for k in inputs if old.inputs.get(k) != inputs[k])
        return f"input changed: {', '.join(changed)}" if changed else "fingerprint changed"


def code_hash(func: Any) -> str:
    """Hash of ``func``'s code: its syntax tree and what it reads from its own package.

    The package is the top-level one of ``func``'s module. Followed from ``func``, and the
    same way from each function and class of the package it leads to:

    - functions of the package it names: their syntax trees;
    - classes of the package it names (or whose instance it names): their source, what their
      methods (static and class methods, properties too) read, and their base classes of the package;
    - modules of the package it names (``helpers.rooms(x)``): the attributes its code uses
      (``rooms``), not the whole module;
    - plain data (:func:`_plain`) it reads by global name (``SCALE = 2.0``) or through a
      module (``helpers.SCALE``), and its default argument values.

    Not covered: values that are not plain data (a compiled regex, a DataFrame, a logger, an
    object's state: skipped, as their repr may differ between processes), code of other
    packages, values captured in closures, data read from files that are not in the catalog.

    A ``functools.partial`` counts as its function and its bound arguments; a callable
    object as its class (its state is not code); a decorated function (``functools.wraps``) as
    the wrapper and what it wraps, a ``functools.lru_cache`` as what it caches; imports from the
    package inside a function's body are followed as its globals are.

    The functions' trees come first, the rest after them: a function that reads no constant,
    class or module of its package and has no plain defaults hashes as before those counted.
    Made once per function in a process (an unhashable callable object, such as a dataclass
    instance, each time).
    """
    try:
        hash(func)
    except TypeError:  # a dataclass instance, a frozen one holding a list
        return _code_hash.__wrapped__(func)
    return _code_hash(func)


@functools.cache
def _code_hash(func: Any) -> str:
    top = unwrap(func)
    package = _package(top)
    seen: set[int] = set()  # ids: all followed stay alive with func, and some are unhashable
    trees: list[str] = []
    more: list[str] = []
    stack = [func]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            trees.append(_stable_repr((obj.args, sorted(obj.keywords.items()))))
            stack.append(obj.func)
            continue
        wrapped = _wrapped(obj)
        if wrapped is not None:  # a decorated function (functools.wraps), or functools.lru_cache's wrapper
            stack.append(wrapped)
            if not isinstance(obj, types.FunctionType):
                continue  # the cache object has no code of the package's
        (more if isinstance(obj, type) and obj is not top else trees).append(_source_tree(obj))
        refs, values = _reads(obj, package)
        stack.extend(refs)
        more.extend(values)
    return _digest(*trees, *more)


def unwrap(func: Any) -> Any:
    """The function inside ``functools.partial`` layers (``func`` itself if none)."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _wrapped(obj: Any) -> Any:
    """What ``obj`` wraps (``__wrapped__``, set by ``functools.wraps`` and ``lru_cache``), or ``None``."""
    if issubclass(type(obj), type):  # not isinstance: that may ask a proxy object for its __class__
        return None
    try:  # object's own lookup: no __getattribute__ or __getattr__ hook of obj's class runs
        return object.__getattribute__(obj, "__dict__").get("__wrapped__")
    except (AttributeError, TypeError):  # no __dict__
        return None


def _package(obj: Any) -> str:
    return (getattr(obj, "__module__", None) or "").split(".")[0]


def _reads(obj: Any, package: str) -> tuple[list[Any], list[str]]:
    """What ``obj`` (a function, class or callable object) reads that counts in its code
    hash: the functions and classes of ``package`` to follow, and ``name=value`` of plain data."""
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    refs: list[Any] = []
    functions = [obj] if isinstance(obj, types.FunctionType) else []
    if not functions:
        cls = obj if isinstance(obj, type) else type(obj)
        for fn in _methods(cls):
            if fn.__qualname__.startswith(cls.__qualname__ + "."):
                functions.append(fn)  # its code is in the class's source
            elif _package(fn) == package:
                refs.append(fn)  # a function from elsewhere set on the class
        refs += [base for base in cls.__mro__[1:] if base is not object and _package(base) == package]
    values: list[str] = []
    for fn in functions:
        code, namespace = fn.__code__, fn.__globals__
        names = sorted(_names(code))
        for name in names:
            if name in namespace:
                _follow(name, namespace[name], names, package, refs, values, set())
        for name, value in _imported_inside(fn, package):
            _follow(name, value, names, package, refs, values, set())
        positional = code.co_varnames[: code.co_argcount]  # the defaults are for the last ones
        defaults = zip(reversed(positional), reversed(fn.__defaults__ or ()), strict=False)
        for param, value in [*defaults, *(fn.__kwdefaults__ or {}).items()]:
            if (text := _plain(value)) is not None:
                values.append(f"default {param}={text}")
            else:  # a function or class of the package as a default (key=my_scaler)
                _follow(f"default {param}", value, names, package, refs, values, set())
    return refs, values


def _follow(
    name: str, value: Any, names: list[str], package: str, refs: list[Any], values: list[str], modules: set[int]
) -> None:
    """Sort out the global ``name`` a function reads (``names``: all the names its code uses):
    a function, partial or class of ``package`` to follow goes to ``refs``, plain data to
    ``values``; a module of ``package`` is looked into for the attributes among ``names``."""
    held: list[Any]  # set by the walrus below, which cannot carry an annotation
    kind = type(value)  # not isinstance: that may ask a proxy object for its __class__
    if issubclass(kind, (types.FunctionType, functools.partial, type)):
        if _package(unwrap(value)) == package:
            refs.append(value)
    elif (wrapped := _wrapped(value)) is not None and callable(wrapped):  # functools.lru_cache(f) ...
        if _package(unwrap(wrapped)) == package:
            refs.append(value)
    elif issubclass(kind, types.ModuleType):
        attrs = vars(value)  # not getattr: no module __getattr__ hook runs
        if str(attrs.get("__name__", "")).split(".")[0] == package and id(value) not in modules:
            modules.add(id(value))
            for attr in names:
                if attr in attrs:
                    _follow(f"{name}.{attr}", attrs[attr], names, package, refs, values, modules)
    elif not name.endswith("__") and (text := _plain(value, package, held := [])) is not None:  # not __file__
        values.append(f"{name}={text}")
        refs += held  # the functions of a list of steps, a dict of models ...
    elif _package(kind) == package:
        refs.append(kind)  # an instance of the package's class: its class's code


def _imported_inside(fn: types.FunctionType, package: str) -> list[tuple[str, Any]]:
    """What ``fn`` imports from ``package`` in its own body (``from .helpers import scale``
    inside the function): a local name, not a global, so :func:`_follow` would not see it.
    Only the package's modules are imported here (if not yet); others are not followed."""
    if "IMPORT_NAME" not in _opnames(fn.__code__):
        return []
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    module = sys.modules.get(fn.__module__ or "")
    # hasattr(None, "__path__") is False: module is a module wherever __name__ is read
    anchor = (
        cast(types.ModuleType, module).__name__ if hasattr(module, "__path__")
        else (fn.__module__ or "").rpartition(".")[0]
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported = _package_module("." * node.level + (node.module or ""), anchor, package)
            if imported is not None:
                attrs = vars(imported)
                found += [(a.asname or a.name, attrs[a.name]) for a in node.names if a.name in attrs]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _package_module(alias.name, anchor, package) is not None:
                    # `import a.b` binds a; `import a.b as c` binds a.b
                    bound = alias.name if alias.asname else alias.name.split(".")[0]
                    found.append((alias.asname or bound, sys.modules[bound]))
    return found


def _package_module(name: str, anchor: str, package: str) -> types.ModuleType | None:
    """Module ``name`` (relative to ``anchor``), imported, if it is in ``package``; else ``None``."""
    try:
        resolved = importlib.util.resolve_name(name, anchor)
        if resolved.split(".")[0] != package:
            return None
        return importlib.import_module(resolved)
    except (ImportError, ValueError):
        return None


def _opnames(code: types.CodeType) -> set[str]:
    names = {dis.opname[op] for op in code.co_code[::2]}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _opnames(const)
    return names


def _methods(cls: type) -> list[types.FunctionType]:
    """The functions ``cls`` defines: methods, static and class methods, properties' accessors."""
    found: list[Any] = []
    for value in vars(cls).values():
        kind = type(value)
        if issubclass(kind, (staticmethod, classmethod)):
            found.append(value.__func__)
        elif issubclass(kind, property):
            found += [value.fget, value.fset, value.fdel]
        elif issubclass(kind, functools.cached_property):
            found.append(value.func)
        else:
            found.append(value)
    return [fn for fn in found if type(fn) is types.FunctionType]


#: Plain data: these exact types (a subclass may have a repr of its own), ...
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
#: ... and these holding plain data.
_CONTAINERS = (tuple, list, dict, set, frozenset)


def _plain(value: Any, package: str | None = None, refs: list[Any] | None = None) -> str | None:
    """``value``'s repr if it is plain data, the same in every process; ``None`` if not.

    Plain data: None, a bool, int, float, complex, str or bytes, or a tuple, list, dict, set
    or frozenset of plain data (a set's items sorted by repr, a dict's in insertion order).
    Given ``refs``, a container may also hold functions and classes (a list of feature steps,
    a dict of models by name): each is written by name, and those of ``package`` are added
    to ``refs`` so that their code is followed too.
    """
    try:
        return _plain_repr(value, frozenset(), package, refs)
    except (RecursionError, ValueError):  # nested too deep; an int too long to print
        return None


def _plain_repr(value: Any, within: frozenset[int], package: str | None, refs: list[Any] | None) -> str | None:
    kind = type(value)
    if kind in _SCALARS:
        return repr(value)
    if refs is not None and within and issubclass(kind, (types.FunctionType, functools.partial, type)):
        inner = unwrap(value)
        if _package(inner) == package:
            refs.append(value)
        return f"<{getattr(inner, '__module__', None)}.{getattr(inner, '__qualname__', type(inner).__qualname__)}>"
    if kind not in _CONTAINERS or id(value) in within:  # (a list that holds itself)
        return None
    within |= {id(value)}
    if kind is dict:
        pairs = [
            (_plain_repr(k, within, package, refs), _plain_repr(v, within, package, refs)) for k, v in value.items()
        ]
        if any(None in pair for pair in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    items = [_plain_repr(item, within, package, refs) for item in value]
    if None in items:
        return None
    texts = cast("list[str]", items)  # no None among them: returned just above
    return f"{kind.__name__}({', '.join(sorted(texts) if kind in (set, frozenset) else texts)})"


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _source_tree(fn: Any) -> str:
    if not isinstance(fn, (types.FunctionType, types.MethodType, type)) and callable(fn):
        fn = type(fn)  # a callable object: its class's code (its state is not code)
    # A decorator's wrapper: its own code object, as inspect.getsource(fn) would follow
    # __wrapped__ and give it the source of what it wraps (which is followed on its own). Only
    # then: for a code object, inspect looks the module up in every loaded one (~7 ms).
    source = fn.__code__ if isinstance(fn, types.FunctionType) and _wrapped(fn) is not None else fn
    try:
        return ast.dump(ast.parse(textwrap.dedent(inspect.getsource(source))))
    except (OSError, TypeError, SyntaxError):
        code = getattr(fn, "__code__", None)
        return code.co_code.hex() if code is not None else _stable_repr(fn)


def _stable_repr(value: Any) -> str:
    """``repr(value)`` without memory addresses (``<function f at 0x7f...>``), which differ
    from one process to the next."""
    return _ADDRESS.sub("", repr(value))


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


#: The "hash" of a raw input that does not exist.
MISSING = "missing"


def raw_hash(project: Project, path: str) -> str:
    """Content hash of a raw input; recomputed only when its stat changes (:func:`~luigi_tasks.storage.stat_key`).

    :data:`MISSING` if there is no file.
    """
    try:
        return _raw_hash(project.runs_dir, path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):  # the load says what is wrong there
        return MISSING


#: Raw inputs hashed in this process, by what their stat says (a file changed since is hashed again).
_raw_hashes: dict[str, str] = {}


#: Local raw inputs hashed in this process: path -> the stat their hash was made (or found) for.
_hashed_stats: dict[str, dict[str, Any]] = {}


def raw_changed_since_hashed(path: str) -> bool:
    """Whether the local raw file at ``path`` is no longer the one this process hashed (it was
    replaced or edited since, or is gone); ``False`` if it was not hashed here."""
    fs, fs_path = filesystem.resolve(path)
    hashed = _hashed_stats.get(fs_path) if filesystem.is_local(fs) else None
    if hashed is None:
        return False
    try:
        return stat_key(fs_path) != hashed
    except OSError:
        return True


def _raw_hash(runs_dir: str, path: str) -> str:
    fs, fs_path = filesystem.resolve(path)
    if not filesystem.is_local(fs):
        return _digest(str(fs.checksum(fs_path)))
    key = _hashed_stats[fs_path] = stat_key(fs_path)
    memo = json.dumps(key, sort_keys=True)
    if memo in _raw_hashes:
        return _raw_hashes[memo]
    cache = cache_path(runs_dir, "raw", _digest(fs_path) + ".json")
    cached = read_cached(cache, key)
    if isinstance(cached, str):
        _raw_hashes[memo] = cached
        return cached
    sha = hashlib.sha256()
    with open(fs_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    if settled(key):
        write_cached(cache, key, sha.hexdigest())
    _raw_hashes[memo] = sha.hexdigest()
    return sha.hexdigest()


#: Fingerprints made in this process, by (project, node, run id); forgotten when a run is
#: prepared (:func:`forget_fingerprints`), so that it sees its raw inputs as they are then.
_fingerprints: dict[tuple[Project, type[NodeTask], str], Fingerprint] = {}


def forget_fingerprints() -> None:
    """Forget the fingerprints made so far in this process (a notebook's next run may come
    after a raw file changed)."""
    _fingerprints.clear()


def node_fingerprint(task_class: type[NodeTask], run_id: str) -> Fingerprint:
    """The fingerprint of ``task_class`` in run ``run_id`` (memoised per process until the next
    run is prepared).

    Made upstream first, without recursion: a node's fingerprint combines its upstream nodes'
    digests, so each node is worked out once, whatever the length of the chain above it.
    """
    from luigi_tasks.graph import current_graph

    project = current_project()
    key = (project, task_class, run_id)
    if key not in _fingerprints:
        graph = current_graph()
        stack = [task_class]
        while stack:
            task = stack[-1]
            pending = [up for up in graph.upstream[task] if (project, up, run_id) not in _fingerprints]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if (project, task, run_id) not in _fingerprints:  # a diamond puts a node on the stack twice
                _fingerprints[(project, task, run_id)] = _node_fingerprint(project, task, run_id, graph)
    return _fingerprints[key]


def _node_fingerprint(project: Project, task_class: type[NodeTask], run_id: str, graph: NodeGraph) -> Fingerprint:
    """One node's fingerprint, its upstream nodes' already made."""
    spec = task_class.node
    parameters = run_parameters(project, run_id)
    params = {ref: project.parameter(ref, parameters) for ref in spec.inputs if is_parameter(ref)}
    inputs: dict[str, str] = {}
    legacy_inputs: dict[str, str] = {}
    missing: dict[str, None] = {}
    for ref in spec.inputs:
        if is_parameter(ref):
            continue
        producer = graph.producer(ref)
        if producer is not None:
            upstream = _fingerprints[(project, producer, run_id)]
            inputs[ref], legacy_inputs[ref] = upstream.digest, upstream.legacy
            missing.update(dict.fromkeys(upstream.missing))
        else:
            dataset = project.catalog.dataset(ref, run_id)
            inputs[ref] = legacy_inputs[ref] = dataset.content_hash() or raw_hash(project, dataset.path)
            if inputs[ref] == MISSING:
                missing[ref] = None
    code = code_hash(spec.func)
    params_hash = _digest(json.dumps(params, sort_keys=True, default=repr))
    outputs = ",".join(spec.outputs)
    options = _options_hash(project, inputs, spec.outputs)
    digest = _digest(
        code, params_hash, outputs, *(f"{k}={v}" for k, v in sorted(inputs.items())), *([options] if options else [])
    )
    legacy = _digest(code, params_hash, outputs, *(f"{k}={v}" for k, v in sorted(legacy_inputs.items())))
    return Fingerprint(code, params_hash, inputs, digest, tuple(missing), options, legacy, legacy_inputs, outputs)


#: Catalog options that do not change the data: where and how to reach it, notes, checks (of fs_args, only
#: the open arguments count: a text file's encoding).
_NOT_DATA = frozenset({"credentials", "fs_args", "metadata", "schema", "allow_empty"})


def _options_hash(project: Project, inputs: Iterable[str], outputs: Iterable[str]) -> str:
    """Hash of the catalog options that change what a node reads (its inputs', but their
    ``save_args``) or writes (its outputs', but their ``load_args``); "" if none has any."""
    found = {}
    sides = ((inputs, "save_args", "open_args_load"), (outputs, "load_args", "open_args_save"))
    for names, other_side, open_args in sides:
        for name in names:
            for key, value in project.catalog.entry(name).options.items():
                if key not in _NOT_DATA and key != other_side:
                    found[f"{name}.{key}"] = value
                elif key == "fs_args" and isinstance(value, dict) and value.get(open_args):  # a text file's encoding
                    found[f"{name}.fs_args.{open_args}"] = value[open_args]
    return _digest(json.dumps(found, sort_keys=True, default=repr)) if found else ""
