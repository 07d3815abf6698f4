"""conversion: the bridge between deberta_torch and deberta_tf (the only package that imports both).

Small modules, one job each, imported in this order (each imports only those before it):

* ``sources``: weight formats and task names, the readers of every format, checkpoint source resolution, and the
  all-or-nothing plan of tensor moves (the core planner plus hints);
* ``twins``: the model classes, a model as its twin in the other framework (in memory), a checkpoint loaded into
  the framework it belongs to;
* ``parity``: both models on one batch, max |a - b| per named output (and gradient);
* ``training``: both models trained side by side (training parity, issue 7);
* ``convert``: file conversion (streaming writers, staging, optional parity check);
* ``inspection``: ``deberta-convert inspect``;
* ``cli``: ``deberta-convert`` / ``python -m conversion``.

Importing the package imports none of them (``deberta-convert --help`` stays light).
"""
