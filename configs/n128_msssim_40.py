"""Paper setting: N=128, MS-SSIM, lambda=40."""

from configs import default


def get_config():
    return default.paper_config("n128", "ms-ssim", 40)
