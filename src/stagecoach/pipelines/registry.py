"""Which pipelines exist: the built-in ones plus those installed through entry points.

A third-party package registers a pipeline in its pyproject.toml::

    [project.entry-points."stagecoach.pipelines"]
    ocr = "my_package.pipelines:OCR_PIPELINE"

The entry point names a ``Pipeline`` object, or a callable that returns one.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from stagecoach.pipelines.base import Pipeline

ENTRY_POINT_GROUP = "stagecoach.pipelines"

# Which built-in pipeline handles a file type by default. Video goes through "audio": the
# audio track is what gets transcribed.
PIPELINE_BY_FILE_TYPE = {
    "audio": "audio",
    "video": "audio",
    "document": "document",
    "dataset": "dataset",
    "other": "checksum",
}

log = logging.getLogger(__name__)


def builtin_pipelines() -> dict[str, Pipeline]:
    # Imported here so that listing pipelines does not load every stage's libraries.
    from stagecoach.pipelines.audio import AUDIO
    from stagecoach.pipelines.checksum import CHECKSUM
    from stagecoach.pipelines.dataset import DATASET
    from stagecoach.pipelines.document import DOCUMENT

    return {p.name: p for p in (AUDIO, DOCUMENT, DATASET, CHECKSUM)}


def plugin_pipelines() -> dict[str, Pipeline]:
    """Pipelines from the ``stagecoach.pipelines`` entry points; a broken one is skipped."""
    found: dict[str, Pipeline] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            pipeline = obj if isinstance(obj, Pipeline) else obj()
        except Exception:
            log.exception("pipeline entry point %r could not be loaded; skipped", ep.name)
            continue
        if not isinstance(pipeline, Pipeline) or not pipeline.stages:
            log.error("pipeline entry point %r is not a Pipeline with stages; skipped", ep.name)
            continue
        found[pipeline.name] = pipeline
    return found


def load_pipelines() -> dict[str, Pipeline]:
    """Built-ins and plugins by name. A plugin cannot replace a built-in of the same name."""
    pipelines = builtin_pipelines()
    for name, pipeline in plugin_pipelines().items():
        if name in pipelines:
            log.error("plugin pipeline %r clashes with a built-in one; skipped", name)
            continue
        pipelines[name] = pipeline
    return pipelines


def pipeline_for_file_type(file_type: str) -> str:
    return PIPELINE_BY_FILE_TYPE.get(file_type, "checksum")
