"""The performance suite of luigi-tasks: ``python -m benchmarks`` (see benchmarks/README.md).

Each row compares luigi-tasks with a reference (a plain script, the same pipeline
hand-written on bare Luigi, pandas called directly) in runs interleaved within one
invocation, and checks the result against the goal of issue 6.

This package must stay cheap to import: the plain-script and bare-Luigi contenders import
modules from it, and must pay for neither luigi-tasks nor Luigi through it.
"""
