"""Instance Data Condensation (IDC) for image super-resolution.

The compute library: patches, models, the IDC method, selection baselines, student training and
evaluation. It knows nothing of web, queue or database; `idc_core.api` is what callers use.
"""

__version__ = "0.1.0"
