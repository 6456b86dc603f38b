"""A string as a text file (Kedro's ``text.TextDataset``)."""

from __future__ import annotations

from luigi_tasks.datasets.base import TEXT_OPEN_ARGS, AbstractDataset, Source, text


class TextDataset(AbstractDataset[str]):
    """A ``str`` in a text file, UTF-8 unless ``fs_args`` say otherwise (Kedro's keys:
    ``open_args_load``/``open_args_save`` with ``encoding``, ``errors``, ``newline``).

    Example (catalog.yml):
        report:
          type: text.TextDataset
          filepath: data/08_reporting/report.md
          fs_args: {open_args_save: {encoding: utf-8}}   # optional

    Example (Python):
        >>> ds = TextDataset("notes.txt")
        >>> ds.save("hello\\n"); ds.load()
        'hello\\n'
    """

    data_type = str
    open_args_keys = TEXT_OPEN_ARGS
    no_args = (
        "it has no reader or writer options (as in Kedro); give the file's encoding, errors or newline in "
        "fs_args: {open_args_load: {encoding: ...}, open_args_save: {encoding: ...}}."
    )

    def _load_from(self, src: Source) -> str:
        with text(src, "r", self._open_args_load) as f:
            return f.read()

    def _save_to(self, data: str, dst: Source) -> None:
        with text(dst, "w", self._open_args_save) as f:
            f.write(data)
