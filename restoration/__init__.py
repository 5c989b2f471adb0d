"""Restoration and super-resolution networks (torch). Needs the ``torch`` extra."""

# ways ``infer.prepare`` can run a generator (here, so the CLI can offer them before torch loads)
BACKENDS = ("auto", "torch", "onnxruntime")
