"""The REST service around idc_core: FastAPI routes, database models, storage and queue wiring.

This package never imports torch: the API process stays small and starts fast, and all compute
runs in `worker/` through `idc_core.api`.
"""
