"""Parameters given on the command line (``--params``) and a run's effective parameters.

As Kedro's ``kedro run --params``, for a sweep without a config folder per value::

    luigi --module luigi_tasks.pipelines FullPipeline --run-id alpha-0.5 --reuse-from base \\
        --params model.estimator=sklearn.linear_model.Ridge,model.init_args.alpha=0.5

Each ``key=value`` sets one parameter of ``config/parameters.yml`` (dotted keys reach into
mappings, the rest of which stays as configured); the value is typed as in the YAML files.

A run keeps the ``--params`` it was started with: its ``run.json`` records them, and a later
command on the run (a resume, one node, ``luigi-tasks runs show``) applies them again, given
or not. Other values are refused, as any other change of a run's parameters is.

Example:
    >>> parse("model.init_args.alpha=0.5, split.test_size=0.3")
    {'model.init_args.alpha': 0.5, 'split.test_size': 0.3}
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from luigi_tasks.config import declaring_file
from luigi_tasks.errors import ConfigError
from luigi_tasks.versioning import RunOption

if TYPE_CHECKING:
    from luigi_tasks.project import Project

#: The key in ``run.json`` holding the run's ``--params`` (dotted key -> value).
RECORD_KEY = "params"
_ITEM_START = re.compile(r",\s*[A-Za-z_][\w.-]*\s*=")
_SPACED_ITEM = re.compile(r"\s[A-Za-z_][\w.-]*=")  # "a=1 b=2": an item not separated by a comma
_KEY = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_0-9][\w-]*)*")
_EXAMPLE = '--params "model.init_args.alpha=0.5,split.test_size=0.3"'


class ParamsParameter(RunOption):
    """``--params key=value,...``: parameters of this run that replace the configured ones."""

    help = "Parameters replacing config/parameters.yml's for this run: key=value,... (dotted keys)."

    def normalize(self, x: Any) -> str:
        if isinstance(x, str):
            return canonical(parse(x))
        if x is not None and not isinstance(x, dict):
            raise ConfigError(
                f"params must be a string 'key=value,...' or a dict of dotted keys, not a {type(x).__name__}."
            )
        return canonical(flat((key, _plain(value)) for key, value in (x or {}).items()))


def parse(text: str) -> dict[str, Any]:
    """``key=value`` items, separated by commas, as a dict of dotted key -> typed value.

    Raises:
        ConfigError: an item is not ``key=value``, a value is not valid YAML, or a key is
            given twice (or both as a mapping and inside it).
    """
    pairs = []
    text = text.strip().removesuffix(",").strip()  # "a=1," : the comma ends the list, not the value
    for item in _items(text) if text else []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise ConfigError(
                f"--params: {item.strip()!r} is not key=value (a dotted key of config/parameters.yml, "
                f"then its value). Give e.g. {_EXAMPLE}."
            )
        pairs.append((key, _value(key, raw.strip())))
    return flat(pairs)


def _value(key: str, raw: str) -> Any:
    """The typed value of ``key``, refusing what would silently read as something else."""
    from luigi_tasks.config import parse_yaml_value

    if not raw:
        raise ConfigError(f"--params: {key} has no value; give one (null for none, '' for an empty string).")
    if _SPACED_ITEM.search(raw) and raw[0] not in "'\"[{":
        raise ConfigError(
            f"--params: the value of {key}, {raw!r}, holds another key=value: separate items with commas."
        )
    if "${" in raw:
        raise ConfigError(
            f"--params: the value of {key} holds '${{', an OmegaConf interpolation, which is not resolved "
            "(nor in the YAML files): give the value itself."
        )
    try:
        value = parse_yaml_value(raw)
    except ValueError as exc:
        raise ConfigError(f"--params: the value of {key} is not valid YAML ({exc}); quote it.") from None
    if value is None and raw not in ("null", "Null", "NULL", "~"):
        raise ConfigError(f"--params: the value of {key}, {raw!r}, reads as null ('#' starts a comment): quote it.")
    return value


def _plain(value: Any) -> Any:
    """A number of numpy (``np.int64(3)``) as Python's, so that it is recorded and shown as one."""
    item = getattr(value, "item", None)
    return item() if callable(item) and type(value).__module__ == "numpy" else value


def flat(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Dotted key -> value; a mapping value is spread over its keys, as Kedro merges
    ``--params`` (``model={init_args: {alpha: 1}}`` sets ``model.init_args.alpha`` alone).

    Raises:
        ConfigError: a key given twice, or both as a mapping and inside it.
    """
    found: dict[str, Any] = {}
    for key, value in (leaf for pair in pairs for leaf in _leaves(*pair)):
        if key in found:
            raise ConfigError(f"--params: {key} is given twice; give it once.")
        clash = next((k for k in found if k.startswith(key + ".") or key.startswith(k + ".")), None)
        if clash:
            raise ConfigError(f"--params sets both {clash} and {key}, one inside the other; give one.")
        found[key] = value
    return found


def _leaves(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for sub, inner in value.items():
            yield from _leaves(f"{key}.{sub}", inner)
    else:
        yield key, value


def _items(text: str) -> list[str]:
    """``text`` split at each comma that starts another ``key=``, outside quotes and brackets
    (so ``cols=[a, b]``, ``name='x,y=1'`` and ``name=a,b`` keep their commas)."""
    items, start, depth, quote, before = [], 0, 0, "", "="
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"" and before in "=[{,:":  # a quote opens a value, not an apostrophe inside one
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0 and _ITEM_START.match(text, i):
            items.append(text[start:i])
            start = i + 1
        before = char if not char.isspace() else before
    return [*items, text[start:]]


def canonical(overrides: dict[str, Any]) -> str:
    """``overrides`` as one ``--params`` value, keys sorted (the same text for the same values)."""
    return ",".join(f"{key}={_text(value)}" for key, value in sorted(overrides.items()))


def _text(value: Any) -> str:
    """A value as typed in ``--params`` (YAML flow style), read back as the same value: a
    string unquoted unless it would read otherwise, ``.inf``/``.nan`` for those floats."""
    from luigi_tasks.config import parse_yaml_value

    if isinstance(value, str):
        if value and "," not in value and value.strip() == value:
            with contextlib.suppress(ValueError):
                if parse_yaml_value(value) == value:
                    return value
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_text(k)}: {_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(_plain(value))


def apply(project: Project, overrides: dict[str, Any]) -> dict[str, Any]:
    """The project's parameters with ``overrides`` set (a copy; the project's are unchanged).

    Raises:
        ConfigError: a key that ``config/parameters.yml`` does not declare, inside a mapping
            that declares others (an empty mapping, as ``init_args: {}``, takes any keys, at
            any depth), or inside a value that is not a mapping; a declared mapping set to
            something else.
    """
    if not overrides:
        return project.parameters
    parameters = copy.deepcopy(project.parameters)
    for key, value in overrides.items():
        _check_declared(project, key, value)
        *parents, leaf = key.split(".")
        mapping = parameters
        for part in parents:  # under an open mapping, made as needed
            mapping = mapping.setdefault(part, {})
        mapping[leaf] = value
    return parameters


def _check_declared(project: Project, key: str, value: Any) -> None:
    """Refuse ``key`` unless the configured parameters declare it (or an open mapping above it)."""
    *parents, leaf = key.split(".")
    mapping: Any = project.parameters
    for depth, part in enumerate([*parents, leaf]):
        if isinstance(mapping, dict) and not mapping and depth:  # init_args: {} takes any keys
            return
        if not isinstance(mapping, dict) or part not in mapping:
            _undeclared(project, key, ".".join(parents[:depth]), mapping)
        mapping = mapping[part]
    if isinstance(mapping, dict) and mapping and (not isinstance(value, dict) or not value):
        some = next(iter(mapping))
        raise ConfigError(
            f"--params sets {key} to {value!r}, but {key} is a mapping in {_declared_in(project, key)}: "
            f"set its keys ({key}.{some}=...)."
        )


def _declared_in(project: Project, key: str) -> str:
    top = key.split(".")[0]
    return str(project.overlaid[top]) if top in project.overlaid else declaring_file(project.root, "parameters", top)


def _undeclared(project: Project, key: str, parent: str, mapping: Any) -> None:
    if not isinstance(mapping, dict):
        raise ConfigError(
            f"--params sets {key}, but {parent} is {mapping!r} in {_declared_in(project, key)}, not a mapping. "
            "Fix the name."
        )
    part = key[len(parent) + 1 :].split(".")[0] if parent else key.split(".")[0]
    close = difflib.get_close_matches(part, [str(k) for k in mapping], n=1)
    hint = f" (did you mean {parent + '.' if parent else ''}{close[0]}?)" if close else ""
    raise ConfigError(
        f"--params sets {key}, which {_declared_in(project, key)} does not declare{hint}. "
        "Declare it there, or fix the name."
    )


#: Per Project object: run id -> the run's effective parameters, as prepared in this process.
_known: WeakKeyDictionary[Project, dict[str, dict[str, Any]]] = WeakKeyDictionary()


def set_run_parameters(project: Project, run_id: str, parameters: dict[str, Any]) -> None:
    """Record ``parameters`` as run ``run_id``'s for this process (done when it is prepared)."""
    _known.setdefault(project, {})[run_id] = parameters


def run_parameters(project: Project, run_id: str) -> dict[str, Any]:
    """Run ``run_id``'s parameters: the configured ones with the run's ``--params`` set.

    Raises:
        ConfigError: the run's ``--params`` name a key the configuration no longer declares.
    """
    known = _known.setdefault(project, {})
    if run_id not in known:
        from luigi_tasks.run_info import read_run_info

        overrides = recorded(read_run_info(project, run_id))
        try:
            known[run_id] = apply(project, overrides)
        except ConfigError as exc:
            raise ConfigError(f"Run '{run_id}' was started with --params {canonical(overrides)}, but {exc}") from None
    return known[run_id]


def recorded(info: dict[str, Any] | None) -> dict[str, Any]:
    """The ``--params`` a run (its ``run.json``, ``info``) was started with."""
    return dict((info or {}).get(RECORD_KEY) or {})


def shown_parameters(project: Project, run_id: str, info: dict[str, Any]) -> str | None:
    """For commands that show a run (``runs show``, ``viz``): make its parameters those of
    :func:`run_parameters`, or, when its ``--params`` no longer fit the configuration, the
    ones it recorded; in that case return why, for the command to say so."""
    try:
        run_parameters(project, run_id)
    except ConfigError as exc:
        set_run_parameters(project, run_id, info.get("parameters") or project.parameters)
        return str(exc)
    return None
