"""Models without the web: training, artifacts, the repository on disk, loaded models, prediction,
and the lifecycle (comparison, report, audit trail, promote/rollback).

Nothing under kosprice.ml imports Flask or kosprice.api / kosprice.monitoring.
"""
