"""Pictures of a scale function like the paper's Figures 4-5: a heat map and slices in x and y."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pgcheck.backends import to_numpy
from pgcheck.check import Source
from pgcheck.errors import UserError
from pgcheck.files import atomic_save


def plot_scale(source: Source, path: Path, extent: float = 3.0) -> None:
    """Write a PNG with f on [-extent, extent]^2, f(x, ·) for several x and f(·, y) for several y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = source.function if source.expression is None else to_numpy(source.expression.core)
    assert f is not None
    grid = np.linspace(-extent, extent, 241)
    gx, gy = np.meshgrid(grid, grid)
    z = f(gx, gy)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    lim = np.nanpercentile(np.abs(z[np.isfinite(z)]), 99) if np.isfinite(z).any() else 1.0
    im = axes[0].imshow(z, origin="lower", extent=(-extent, extent, -extent, extent), cmap="RdBu_r",
                        vmin=-lim, vmax=lim, aspect="auto")
    axes[0].set(xlabel="x = ΔO", ylabel="y = ΔR", title="f(ΔO, ΔR)")
    fig.colorbar(im, ax=axes[0])
    for xv in (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0):
        axes[1].plot(grid, f(np.full_like(grid, xv), grid), label=f"ΔO = {xv:g}")
    axes[1].set(xlabel="y = ΔR", ylabel="f", title="slices in ΔR (must be non-decreasing)")
    axes[1].legend(fontsize=8)
    for yv in (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0):
        axes[2].plot(grid, f(grid, np.full_like(grid, yv)), label=f"ΔR = {yv:g}")
    axes[2].set(xlabel="x = ΔO", ylabel="f", title="slices in ΔO (|f| non-decreasing near 0)")
    axes[2].legend(fontsize=8)
    fig.suptitle(source.input.get("name") or source.input.get("text", ""))
    fig.tight_layout()
    try:
        atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"), suffix=".png")
    except ValueError as exc:   # matplotlib's refusal of the figure, not of the file
        raise UserError(f"cannot write plot {path}: {exc}") from None
    finally:
        plt.close(fig)
