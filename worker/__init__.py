"""Celery workers: prepare -> shards -> assemble. Compute goes through `idc_core.api` only."""
