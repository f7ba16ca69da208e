"""Instance Data Condensation (sections 3-4, Algorithm 1): RLFF, NCFD, groups and pairs.

This package's `__init__` imports nothing: `settings` is torch-free so that the API process can
validate IDC settings without importing torch, while `condense` and the losses need torch.
"""
