"""Study report: figures, a self-contained interactive HTML report and LaTeX exports.

The pipeline stage :data:`~nqpspatial.report.stage.report_stage` (entry point
``report`` in the ``nqpspatial.analyses`` group) runs last and writes
``figures/``, ``report.html`` and ``latex/`` into the output folder.  See
docs/report.md.  Importing this package imports neither matplotlib nor
geopandas; the stage does when it runs.
"""

from __future__ import annotations

from .stage import REPORT_KEYS, SECTIONS, ReportStage, build_report, report_stage

__all__ = ["ReportStage", "report_stage", "build_report", "REPORT_KEYS", "SECTIONS"]
