"""Models without the web: training, artifacts, the repository on disk, loaded models, prediction.

Nothing under kosprice.ml imports Flask or kosprice.api / kosprice.monitoring.
"""
