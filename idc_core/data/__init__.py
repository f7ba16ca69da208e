"""Reading images, bicubic down-sampling, patch extraction and the paired dataset layout."""
