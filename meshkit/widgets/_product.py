"""01's explorer: pick a product and see its contract checks and failing rows."""

from __future__ import annotations

from meshkit._errors import MeshkitError
from meshkit.widgets._base import assemble, bind, error_html, to_html, widgets

__all__ = ["product_view", "product_explorer"]


def product_view(mesh, store, choice: str, *, batches: dict | None = None):
    """The quality report of one product (its latest published version) or of one batch.

    Parameters
    ----------
    mesh : Mesh
        Gives the product's contract.
    store : ProductStore
        Where the published versions are read.
    choice : str
        A product name, or a label of ``batches``.
    batches : dict, optional
        Label -> ``(product name, frame)``: candidate batches validated against that
        product's contract (e.g. a broken batch the store refused).

    Returns
    -------
    QualityReport
        Every check of the contract, with a few failing rows per failed check.

    Examples
    --------
    >>> from meshkit.scenarios import load_scenario
    >>> from meshkit import ProductStore
    >>> import tempfile
    >>> sc = load_scenario("healthcare", scale=0.1)
    >>> store = ProductStore(tempfile.mkdtemp())
    >>> name = next(sc.mesh.products()).name
    >>> _ = store.publish(sc.mesh.product(name), sc.frames[name])
    >>> product_view(sc.mesh, store, name).passed
    True
    """
    from meshkit._contracts import validate

    name, frame = (batches or {}).get(choice, (choice, None))
    product = mesh.product(name)
    if frame is None:
        frame = store.read(name)
    return validate(frame, product.contract)


def product_explorer(mesh, store, *, batches: dict | None = None):
    """A product picker over :func:`product_view`.

    The choices are the products published in ``store`` and the labels of ``batches``.
    """
    w = widgets()
    names = [p.name for p in mesh.products() if store.exists(p.name)] + list(batches or {})
    controls = {"product": w.Dropdown(options=names, value=names[0], description="product")}
    view = w.HTML()

    def update():
        try:
            view.value = to_html(product_view(mesh, store, controls["product"].value,
                                              batches=batches))
        except MeshkitError as exc:
            view.value = error_html(exc)

    bind(controls, update)
    update()
    return assemble(controls, view, title="product explorer")
