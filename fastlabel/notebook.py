"""FastLabel from Python: a workspace's concepts, labels and predictions as pandas DataFrames, its model as a
Classifier, and a headless labeling loop (`next_page`, `submit`) for scripted or programmatic labelers.

    import fastlabel
    ws = fastlabel.open(home=".fastlabel", images="photos/")
    smiling = ws.concept("smiling")
    page = smiling.next_page(size=24)
    smiling.submit(page, {item: my_labeler(item) for item in page.ids})
    smiling.predictions()           # a DataFrame: id, label, prob_pos, labeler
    smiling.classifier().predict_proba(["new.jpg"])

Every label is a journaled event, as from the page: the server and this API open the same workspace
(not at the same time: the journal is locked by whoever has it open).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .config import Config
from .errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from .model.classifier import Classifier
    from .session import LabelingSession
    from .workspace import Workspace as OpenWorkspace

PATH_FIELDS = {"sprite", "images", "manifest", "hf_dataset", "attributes", "embeddings", "home", "session"}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise InvalidInput(f"DataFrames need pandas ({exc}): pip install 'fastlabel[data]'") from None
    return pandas


def open(**settings: Any) -> Workspace:  # noqa: A001 -- fastlabel.open reads as it should
    """Open (embedding on first use) the workspace the settings name: any Config field, e.g. `home`,
    `images`, `manifest`, `hf_dataset`, `sprite` + `grid`, `encoder`; no data: the demo faces."""
    from .workspace import open_workspace

    known = {f.name for f in fields(Config)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidInput(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = {k: Path(v).expanduser() if k in PATH_FIELDS and v is not None else v for k, v in settings.items()}
    return Workspace(open_workspace(Config(**values)))


@dataclass(frozen=True)
class Page:
    """A page served for labeling: the ids to label, the model's P(positive) of each, and the label each
    card starts with in the app (the model's guess, or the page's pre-label)."""

    batch_id: int | None
    ids: list[int]
    probs: list[float]
    starts: list[int]
    strategy: str

    def __len__(self) -> int:
        return len(self.ids)


class Concept:
    """One binary concept of a workspace: its labels, predictions, model and labeling loop."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name

    @property
    def session(self) -> LabelingSession:
        return self.workspace.inner.concepts.session(self.name)

    def __repr__(self) -> str:
        counts = self.session.counts()
        return f"Concept({self.name!r}, {counts.get('labeled', 0)} labeled)"

    def labels(self) -> pd.DataFrame:
        """The labels in effect: id, label (0/1), labeler, and the item's path where it has one."""
        from .model.label_table import labeler_of

        state = self.session.state
        rows = [{"id": i, "label": y, "labeler": labeler_of(state, i)} for i, y in sorted(state.labels.items())]
        return self._with_paths(_pandas().DataFrame(rows, columns=["id", "label", "labeler"]))

    def predictions(self) -> pd.DataFrame:
        """Every item served (and every one labeled): id, label (yours where given, else the model's at the
        threshold), prob_pos (the newest head's), labeler ("model" where the model decided)."""
        from .model.label_table import label_table

        table = label_table(self.workspace.inner, [self.name])
        frame = _pandas().DataFrame(table.columns)
        return frame.rename(columns={f"{self.name}.{part}": part for part in ("label", "prob_pos", "labeler")})

    def classifier(self) -> Classifier:
        """The newest model as a fastlabel.model Classifier (embeds new images with the workspace's encoder)."""
        from .model.versions import export_version, source_args

        inner = self.workspace.inner
        export = export_version(self.session, inner.encoder, **source_args(inner.source))
        return export.classifier(encoder=inner.encoder)

    def next_page(self, size: int | None = None, strategy: str | None = None) -> Page:
        """Choose the next page as the app would: the strategy given, else the workspace's, else the goal's."""
        config = self.workspace.inner.config
        chosen = strategy or config.default_strategy or self.session.goal.strategy  # this concept's goal
        batch = self.session.next_batch(chosen, size or config.batch_size)
        starts = batch.starts if batch.starts is not None else [int(p >= 0.5) for p in batch.probs]
        return Page(batch.batch_id, list(batch.ids), list(batch.probs), list(starts), batch.strategy)

    def submit(self, page: Page | None, labels: Mapping[int, int] | Sequence[tuple[int, int]]) -> dict[str, Any]:
        """Record labels (for a page, or on their own) and retrain; returns the counts and the retrain time."""
        pairs = list(labels.items()) if isinstance(labels, Mapping) else list(labels)
        checked = []
        for item, label in pairs:
            if label not in (0, 1, True, False):
                raise InvalidInput(f"a label is 0 or 1, got {label!r} for item {item}")
            checked.append((int(item), int(label)))
        done = self.session.submit(checked, batch_id=page.batch_id if page is not None else None)
        return {"counts": self.session.counts(), "train_ms": done.point.train_ms, "warning": done.warning}

    def undo(self) -> None:
        """Take back the last submitted page."""
        self.session.undo()

    def _with_paths(self, frame: pd.DataFrame) -> pd.DataFrame:
        paths = getattr(self.workspace.inner.source, "paths", None)
        if paths is not None and len(frame):
            frame.insert(1, "path", [paths[i] for i in frame["id"]])
        return frame


class Workspace:
    """An open workspace: its data, embeddings and concepts. Close it (or use `with`) to free its journals."""

    def __init__(self, inner: OpenWorkspace) -> None:
        self.inner = inner

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"fastlabel.Workspace({self.inner.source.name}, concepts={self.concepts})"

    @property
    def concepts(self) -> list[str]:
        return self.inner.concepts.names()

    @property
    def embeddings(self) -> Any:
        return self.inner.embeddings

    def concept(self, name: str | None = None, *, create: bool = True) -> Concept:
        """A concept by name (made when new, unless `create=False`); no name: the current one."""
        concepts = self.inner.concepts
        if name is None:
            return Concept(self, concepts.current)
        resolved = concepts.create(name, exist_ok=True) if create else concepts.resolve(name)
        return Concept(self, resolved)

    def table(self, concepts: list[str] | None = None) -> pd.DataFrame:
        """Every item with a label, prob_pos and labeler column per concept (see export-table)."""
        from .model.label_table import label_table

        return _pandas().DataFrame(label_table(self.inner, concepts).columns)

    def export(self, out: str | Path, format: str | None = None, concepts: list[str] | None = None) -> Path:  # noqa: A002
        """Write the label table: csv, parquet, hf, label-studio or fiftyone (default: from the suffix)."""
        from .model.label_table import label_table, table_format, write_table

        out = Path(out)
        return write_table(self.inner, label_table(self.inner, concepts), out, table_format(out, format))

    def close(self) -> None:
        self.inner.concepts.close()
