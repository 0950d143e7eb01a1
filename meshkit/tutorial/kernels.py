"""How the chain starts its kernels: with transport encryption where the kernel supports it.

A kernel started over TCP without CurveZMQ keys sends code and outputs in plain text, and
ipykernel says so ("Kernel is running over TCP without encryption") for every notebook. The
kernel spec that ``ipykernel install`` writes declares ``"supported_encryption": ["curve"]``
in its metadata; with ``transport_encryption = "auto"`` jupyter_client then provisions a
CurveZMQ key pair for each kernel it starts, so the traffic is encrypted and the warning has
nothing to warn about. A kernel spec that declares no support starts as before (and warns).

Examples
--------
>>> kernel_config()["KernelManager"]["transport_encryption"]
'auto'
"""

from __future__ import annotations

__all__ = ["ENCRYPTION", "kernel_config"]

#: the transport encryption policy of the kernels the chain starts (jupyter_client's names)
ENCRYPTION = "auto"


def kernel_config():
    """The traitlets config that makes a kernel manager provision CurveZMQ keys."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": ENCRYPTION}})
