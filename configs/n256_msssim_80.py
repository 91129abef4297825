"""Paper setting: N=256, MS-SSIM, lambda=80."""

from configs import default


def get_config():
    return default.paper_config("n256", "ms-ssim", 80)
