"""An independent float64 NumPy MS-SSIM written from Wang, Simoncelli and Bovik (2003).

Used only to cross-check ``jaxlic.metrics.ms_ssim``; shares no code with it.
"""

import numpy as np

WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def _gauss(size=11, sigma=1.5):
    x = np.arange(size) - size // 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _filter_valid(img, g):
    """Separable valid correlation of a 2-D array."""
    n = len(g)
    rows = sum(g[i] * img[i:img.shape[0] - n + 1 + i, :] for i in range(n))
    return sum(g[i] * rows[:, i:rows.shape[1] - n + 1 + i] for i in range(n))


def _ssim_cs(a, b, peak):
    g = _gauss()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    ma, mb = _filter_valid(a, g), _filter_valid(b, g)
    va = _filter_valid(a * a, g) - ma**2
    vb = _filter_valid(b * b, g) - mb**2
    cov = _filter_valid(a * b, g) - ma * mb
    cs_map = (2 * cov + c2) / (va + vb + c2)
    l_map = (2 * ma * mb + c1) / (ma**2 + mb**2 + c1)
    return (l_map * cs_map).mean(), cs_map.mean()


def ms_ssim(a, b, peak=1.0):
    """MS-SSIM of two HxWxC images (channels averaged inside each scale)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    values = []
    for scale in range(5):
        ssims, css = zip(*[_ssim_cs(a[..., c], b[..., c], peak) for c in range(a.shape[-1])])
        values.append(np.mean(ssims) if scale == 4 else np.mean(css))
        h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        a = a[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))
        b = b[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))
    values = np.maximum(np.array(values), 0.0)
    return float(np.prod(values**WEIGHTS))
