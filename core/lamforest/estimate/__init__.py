"""The estimate: a build's wall time, cost and memory, projected before it runs (pure: no store, no process).

* ``sample``: one grove's work measured on this machine (``Sample``) and its cache;
* ``params``: the model's named parameters (``ModelParams``), each with its default and source;
* ``simulate``: the event simulation of dispatch, Lambda's scaling and the concurrency cap;
* ``project``: the projection from a sample and the parameters (``project``, ``quick_estimate``);
* ``ec2``: the same job on one EC2 instance, for comparison;
* ``calibrate``: least squares of the parameters on finished builds.

What reads the store or starts processes for it is in ``lamforest.driver.estimate`` (the sample
is measured by ``lamforest.driver.sample``); ``lamforest estimate`` is ``lamforest.cli.estimate``.
"""
