"""A bare Flower app with the same nodes and model as meshkit's, for ``bench_flower.py``.

Flower's own ``FedAvg`` (``flwr.serverapp.strategy``) drives the rounds; the ClientApp trains
the same numpy logistic regression on the same ``.npz`` data a meshkit node reads. No meshkit
round loop, no model description on the wire, no node state: what is left is Flower's cost.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from meshkit import LogisticRegression

server_app = ServerApp()
client_app = ClientApp()


@server_app.main()
def _main(grid: Grid, context: Context) -> None:
    n = int(context.run_config["domains"])
    model = LogisticRegression(lr=0.5, n_classes=2)
    model.init_parameters(int(context.run_config["features"]), 2)
    strategy = FedAvg(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=n, min_evaluate_nodes=n,
                      min_available_nodes=n)
    strategy.start(grid, ArrayRecord(model.get_parameters()), num_rounds=int(context.run_config["rounds"]),
                   train_config=ConfigRecord({"epochs": 1}))


def _local(context: Context):
    with np.load(str(context.node_config["data"])) as d:
        data = {k: d[k] for k in ("X_train", "y_train", "X_test", "y_test")}
    return LogisticRegression(lr=0.5, n_classes=2, seed=0), data


@client_app.train()
def _train(message: Message, context: Context) -> Message:
    model, data = _local(context)
    params = message.content["arrays"].to_numpy_ndarrays()
    model.set_parameters(params)
    model.fit(data["X_train"], data["y_train"], epochs=1)
    return Message(RecordDict({"arrays": ArrayRecord(model.get_parameters()),
                               "metrics": MetricRecord({"num-examples": len(data["y_train"])})}), reply_to=message)


@client_app.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    model, data = _local(context)
    model.set_parameters(message.content["arrays"].to_numpy_ndarrays())
    metrics = model.evaluate(data["X_test"], data["y_test"])
    return Message(RecordDict({"metrics": MetricRecord({"num-examples": len(data["y_test"]),
                                                        **{k: float(v) for k, v in metrics.items()}})}),
                   reply_to=message)
