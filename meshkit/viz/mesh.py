"""Figure of a mesh: domains (boxes listing their products) and who consumes what (arrows).

Domains sit on a circle in spec order, starting at the top and going clockwise; an arrow
from domain A to domain B means B consumes at least one of A's products (the arrow is
labelled with those products). The layout depends only on the mesh, so the same mesh
always gives the same picture.

Examples
--------
>>> from meshkit.scenarios import load_scenario
>>> fig = plot_mesh(load_scenario("retail", scale=0.1).mesh)
>>> sorted(a.get_gid() for a in fig.axes[0].texts if a.get_gid().startswith("domain:"))
['domain:catalog', 'domain:clickstream', 'domain:customers', 'domain:orders']
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from meshkit._palette import ARROW, DOMAIN_FILL, EDGE, PII_FILL

__all__ = ["plot_mesh", "domain_positions"]

_RAD = 0.18  # curvature of the arrows, so A -> B and B -> A do not overlap


def domain_positions(n: int, width: float = 1.3, height: float = 1.0) -> np.ndarray:
    """``(n, 2)`` positions on an ellipse, the first at the top, then clockwise.

    Examples
    --------
    >>> domain_positions(2).round(3).tolist()
    [[0.0, 1.0], [0.0, -1.0]]
    """
    if n == 1:
        return np.zeros((1, 2))
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return np.round(np.column_stack([width * np.cos(angles), height * np.sin(angles)]), 12) + 0.0


def _domain_label(domain) -> str:
    lines = [domain.name]
    for product in domain.products.values():
        pii = " (PII)" if product.pii_columns else ""
        lines.append(f"• {product.name}{pii}")
    if not domain.products:
        lines.append("(no products)")
    return "\n".join(lines)


def plot_mesh(mesh, *, figsize: tuple[float, float] | None = None) -> Figure:
    """Draw the mesh: one box per domain with its products; consumer arrows between them.

    Parameters
    ----------
    mesh : meshkit._mesh.Mesh
        The mesh to draw.
    figsize : (float, float), optional
        Figure size in inches; grows with the number of domains by default.

    Returns
    -------
    matplotlib.figure.Figure
        Domain boxes carry the gid ``domain:<name>``; arrows ``consumes:<producer>-><consumer>``.
    """
    domains = list(mesh.domains.values())
    n = len(domains)
    if figsize is None:
        side = 6.0 + 0.6 * max(0, n - 4)
        figsize = (side + 2.0, side)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    positions = domain_positions(n)
    boxes = {}
    for domain, (x, y) in zip(domains, positions):
        has_pii = any(p.pii_columns for p in domain.products.values())
        boxes[domain.name] = ax.text(
            x, y, _domain_label(domain), ha="center", va="center", fontsize=8.5, zorder=3,
            gid=f"domain:{domain.name}",
            bbox={"boxstyle": "round,pad=0.5",
                  "facecolor": PII_FILL if has_pii else DOMAIN_FILL,
                  "edgecolor": EDGE, "linewidth": 1.2})

    # one arrow per (producer, consumer) pair, labelled with the products consumed
    pairs: dict[tuple[str, str], list[str]] = {}
    for product in mesh.products():
        for consumer in product.consumers:
            if consumer != product.domain:
                pairs.setdefault((product.domain, consumer), []).append(product.name)
    index = {d.name: i for i, d in enumerate(domains)}
    for (producer, consumer), products in pairs.items():
        start, end = positions[index[producer]], positions[index[consumer]]
        ax.annotate("", xy=end, xytext=start, zorder=2, gid=f"consumes:{producer}->{consumer}",
                    arrowprops={"arrowstyle": "-|>", "color": ARROW, "linewidth": 1.0,
                                "connectionstyle": f"arc3,rad={_RAD}",
                                "patchA": boxes[producer].get_bbox_patch(),
                                "patchB": boxes[consumer].get_bbox_patch()})
        # the label sits on the arc (a quadratic Bezier curve, as matplotlib's arc3 draws
        # it) near the producer, so labels of crossing arcs do not meet in the middle
        control = (start + end) / 2 + _RAD * np.array([end[1] - start[1], start[0] - end[0]])
        t = 0.3
        label_at = (1 - t) ** 2 * start + 2 * t * (1 - t) * control + t ** 2 * end
        ax.text(*label_at, ", ".join(products), fontsize=6.5, ha="center",
                va="center", color=ARROW, zorder=4, gid=f"label:{producer}->{consumer}",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                      "alpha": 0.8})

    n_products = sum(len(d.products) for d in domains)
    ax.set_title(f"Mesh {mesh.name}: {n} domain{'s' * (n != 1)}, "
                 f"{n_products} product{'s' * (n_products != 1)}")
    ax.text(0.5, 0.0, "arrow A → B: domain B consumes A's products (labelled); "
            "red boxes hold PII", transform=ax.transAxes, ha="center", va="bottom",
            fontsize=7, color="#666666", gid="caption")
    ax.set_xlim(-2.0, 2.0)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig
