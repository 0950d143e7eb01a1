"""Figures of the security model draw what the reports say."""

import numpy as np

from meshkit._security.posture import PostureReport
from meshkit.viz.security import plot_attacks, plot_posture

ROWS = [{"domain": "crm", "products": 2, "products_encrypted": 1, "pii_columns": 4,
         "pii_protected": 3, "broad_grants": 2, "keys_past_rotation": 1},
        {"domain": "sales", "products": 1, "products_encrypted": 1, "pii_columns": 0,
         "pii_protected": 0, "broad_grants": 0, "keys_past_rotation": 0}]


def test_posture_bars_match_the_report():
    fig = plot_posture(PostureReport(ROWS, 0))
    coverage, risks = fig.axes
    widths = [p.get_width() for p in coverage.patches]
    assert np.allclose(widths, [0.5, 1.0, 0.75, 0.0])  # encrypted (crm, sales), PII (crm, sales)
    assert any(t.get_text() == "no PII columns" for t in coverage.texts)
    assert [p.get_width() for p in risks.patches] == [2, 0, 1, 0]
    assert [t.get_text() for t in coverage.get_yticklabels()] == ["crm", "sales"]


def test_attack_figure_labels_each_outcome():
    fig = plot_attacks([{"attack": "forged token", "refused": True, "layer": "authentication"},
                        {"attack": "oops", "refused": False, "layer": "none"}])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["refused by authentication", "ALLOWED by none"]
    assert ax.patches[0].get_facecolor() != ax.patches[1].get_facecolor()
